// weft/parallel.hpp — every parallel loop (for, for_each, invoke, reduce, for_each_async), in one
// include.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/parallel/blocked_range.hpp>
#include <weft/parallel/for_each_async.hpp>
#include <weft/parallel/loop_options.hpp>
#include <weft/parallel/loop_state.hpp>
#include <weft/parallel/parallel_for.hpp>
#include <weft/parallel/parallel_for_each.hpp>
#include <weft/parallel/parallel_invoke.hpp>
#include <weft/parallel/parallel_reduce.hpp>
