#!/usr/bin/env bash
# A private RabbitMQ node for weft's broker tests: its own node name, ports on loopback, data,
# logs, Erlang cookie and port mapper (epmd) under one folder; nothing of the machine's own
# broker is touched, and `stop` leaves no process of it running.
#
# Usage: scripts/rabbitmq-node.sh start DIR PORT [TLS_PORT]   (prints nothing on success)
#        scripts/rabbitmq-node.sh stop DIR
#        scripts/rabbitmq-node.sh restart DIR
#        scripts/rabbitmq-node.sh ctl DIR ARGS...              (rabbitmqctl against the node)
# DIR/env holds what stop/restart/ctl need, or "unavailable=1" where no RabbitMQ server is
# installed (start then succeeds, says so, and the tests that need the broker skip).
set -euo pipefail
cmd="${1:?usage: $0 start|stop|restart|ctl DIR ...}"
dir="${2:?usage: $0 start|stop|restart|ctl DIR ...}"
dir="$(realpath -m "$dir")" # the node's configuration names files under it
server=/usr/lib/rabbitmq/bin/rabbitmq-server
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl

node_env() {
  # shellcheck disable=SC1091
  source "$dir/env"
  export HOME="$dir/home" RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist_port" ERL_EPMD_PORT="$epmd_port"
  export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

boot() {
  node_env
  epmd -port "$epmd_port" -daemon
  # Run the Erlang VM in place of the launcher script, so that $! is the node itself.
  RUNNING_UNDER_SYSTEMD=true "$server" > "$dir/log/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/node.pid"
  # Bounded wait: the AMQP listener opens last, once the node is ready.
  for _ in $(seq 1 600); do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$dir/node.pid")" 2> /dev/null; then
      break
    fi
    sleep 0.2
  done
  echo "rabbitmq-node: the node did not start; see $dir/log" >&2
  halt
  exit 1
}

halt() {
  [ -s "$dir/node.pid" ] || return 0
  local pid; pid="$(cat "$dir/node.pid")"
  kill -TERM "$pid" 2> /dev/null || true # the node stops cleanly on SIGTERM
  for _ in $(seq 1 600); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2> /dev/null || true
  rm -f "$dir/node.pid"
}

case "$cmd" in
  start)
    port="${3:?usage: $0 start DIR PORT [TLS_PORT]}"
    tls_port="${4:-}"
    rm -rf "$dir"; mkdir -p "$dir/home" "$dir/log" "$dir/mnesia"
    if [ ! -x "$server" ] || ! command -v epmd > /dev/null; then
      echo "unavailable=1" > "$dir/env"
      echo "rabbitmq-node: rabbitmq-server is not installed (scripts/ensure-deps.sh test installs it): the broker tests skip"
      exit 0
    fi
    chmod 700 "$dir/home"
    cat > "$dir/env" <<ENV
node=weft_test_$port@localhost
port=$port
dist_port=$((port + 1))
epmd_port=$((port + 2))
ENV
    echo "[]." > "$dir/enabled_plugins"
    echo "[]." > "$dir/advanced.config"
    : > "$dir/rabbitmq-env.conf"
    {
      echo "listeners.tcp.1 = 127.0.0.1:$port"
      echo "loopback_users = none"
      echo "max_message_size = 1048576"
      echo "log.console = false"
      echo "log.file.level = warning"
      if [ -n "$tls_port" ]; then
        echo "listeners.ssl.1 = 127.0.0.1:$tls_port"
        echo "ssl_options.cacertfile = $dir/tls/ca.pem"
        echo "ssl_options.certfile = $dir/tls/server.pem"
        echo "ssl_options.keyfile = $dir/tls/server.key"
        echo "ssl_options.verify = verify_none"
        echo "ssl_options.fail_if_no_peer_cert = false"
      fi
    } > "$dir/rabbitmq.conf"
    if [ -n "$tls_port" ]; then
      mkdir -p "$dir/tls"
      (cd "$dir/tls" &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=weft test CA" \
          -keyout ca.key -out ca.pem > /dev/null 2>&1 &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
          -out server.csr > /dev/null 2>&1 &&
        printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > san.ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
          -extfile san.ext -out server.pem > /dev/null 2>&1)
    fi
    echo "tls_port=$tls_port" >> "$dir/env"
    boot
    ;;
  restart)
    halt
    node_env
    boot
    ;;
  stop)
    [ -f "$dir/env" ] || exit 0
    grep -q '^unavailable=1' "$dir/env" && exit 0
    halt
    node_env
    epmd -port "$epmd_port" -kill > /dev/null 2>&1 || true
    ;;
  ctl)
    shift 2
    node_env
    timeout 60 "$ctl" -n "$node" "$@"
    ;;
  *) echo "usage: $0 start|stop|restart|ctl DIR ..." >&2; exit 2 ;;
esac
