// weft/dataflow.hpp — every dataflow block (.NET System.Threading.Tasks.Dataflow).
// Design note: weft/detail/dataflow/block_core.hpp; docs/guide/dataflow.md.
// SPDX-License-Identifier: MIT
#pragma once

#include <weft/dataflow/action_block.hpp>
#include <weft/dataflow/batch_block.hpp>
#include <weft/dataflow/block.hpp>
#include <weft/dataflow/broadcast_block.hpp>
#include <weft/dataflow/buffer_block.hpp>
#include <weft/dataflow/channel_interop.hpp>
#include <weft/dataflow/join_block.hpp>
#include <weft/dataflow/null_target.hpp>
#include <weft/dataflow/options.hpp>
#include <weft/dataflow/transform_block.hpp>
