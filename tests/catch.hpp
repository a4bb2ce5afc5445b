// tests/catch.hpp — one include for Catch2 v3 (when installed) or Debian's 2.13.
#pragma once

#ifndef WEFT_CATCH2_MAJOR // CMake's definition wins
#if __has_include(<catch2/catch_test_macros.hpp>)
#define WEFT_CATCH2_MAJOR 3
#else
#define WEFT_CATCH2_MAJOR 2
#endif
#endif

#if WEFT_CATCH2_MAJOR >= 3
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#define WEFT_CONTAINS_SUBSTRING(s) Catch::Matchers::ContainsSubstring(s)
#define WEFT_SKIP(msg) SKIP(msg)
#else
#include <catch2/catch.hpp>
#define WEFT_CONTAINS_SUBSTRING(s) Catch::Matchers::Contains(s)
#define WEFT_SKIP(msg)                                                                                                 \
    do {                                                                                                               \
        WARN(msg);                                                                                                     \
        return;                                                                                                        \
    } while (false)
#endif
