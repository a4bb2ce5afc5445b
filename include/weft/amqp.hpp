// weft/amqp.hpp — weft::amqp, tasks over a RabbitMQ broker (target weft::amqp, which links
// rabbitmq-c): connection, publish with confirms, consume into tasks, RPC, publish/subscribe.
// Guide: docs/guide/amqp.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/amqp/connection.hpp>
#include <weft/amqp/error.hpp>
#include <weft/amqp/message.hpp>
#include <weft/amqp/options.hpp>
#include <weft/amqp/rpc.hpp>
