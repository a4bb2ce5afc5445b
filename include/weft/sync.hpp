// weft/sync.hpp — every coordination primitive and the channel, in one include.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/sync/async_barrier.hpp>
#include <weft/sync/async_event.hpp>
#include <weft/sync/async_latch.hpp>
#include <weft/sync/async_mutex.hpp>
#include <weft/sync/async_rw_lock.hpp>
#include <weft/sync/async_semaphore.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/select.hpp>
