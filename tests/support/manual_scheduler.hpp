// tests/support/manual_scheduler.hpp — weft's own tests use the public step-by-step scheduler.
#pragma once

#include <weft/testing/manual_scheduler.hpp>

namespace weft_test {
using weft::testing::manual_scheduler;
} // namespace weft_test
