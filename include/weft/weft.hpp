// weft/weft.hpp — the umbrella header for users; no weft header includes it.
// Design note: docs/index.md lists every concept and its page.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/blocking.hpp>
#include <weft/callback_timer.hpp>
#include <weft/cancellation.hpp>
#include <weft/concurrent_exclusive.hpp>
#include <weft/dataflow.hpp>
#include <weft/dedicated_thread.hpp>
#include <weft/diag/registry.hpp>
#include <weft/diag/trace.hpp>
#include <weft/errors.hpp>
#include <weft/io/endpoint.hpp>
#include <weft/io/error.hpp>
#include <weft/io/file.hpp>
#include <weft/io/io_context.hpp>
#include <weft/io/options.hpp>
#include <weft/io/process.hpp>
#include <weft/io/tcp.hpp>
#include <weft/io/timer.hpp>
#include <weft/io/udp.hpp>
#include <weft/io/unix.hpp>
#include <weft/limited_scheduler.hpp>
#include <weft/local_task.hpp>
#include <weft/parallel.hpp>
#include <weft/placement.hpp>
#include <weft/pool_options.hpp>
#include <weft/post.hpp>
#include <weft/promise.hpp>
#include <weft/resume_on.hpp>
#include <weft/run_loop.hpp>
#include <weft/scheduler.hpp>
#include <weft/spawn.hpp>
#include <weft/strand.hpp>
#include <weft/sync.hpp>
#include <weft/task.hpp>
#include <weft/task_group.hpp>
#include <weft/task_status.hpp>
#include <weft/thread_pool.hpp>
#include <weft/timer_source.hpp>
#include <weft/timers.hpp>
#include <weft/unobserved.hpp>
#include <weft/when_all.hpp>
#include <weft/when_any.hpp>
#include <weft/with_cancellation.hpp>
#include <weft/work_item.hpp>
