// Tests for weft/detail/ref_ptr.hpp over weft/detail/ref_count.hpp.
#include <weft/detail/ref_count.hpp>
#include <weft/detail/ref_ptr.hpp>

#include <utility>

#include "catch.hpp"

namespace {
int destroyed = 0;
class counted_object : public weft::detail::ref_counted<counted_object> {
public:
    ~counted_object() { ++destroyed; }
};
using ptr = weft::detail::ref_ptr<counted_object>;
} // namespace

TEST_CASE("copies share a reference, moves take it, the last owner destroys the object", "[ref_ptr]") {
    destroyed = 0;
    {
        ptr a = ptr::adopt(new counted_object); // the object's first reference
        CHECK(a->use_count() == 1);
        ptr b = a;
        CHECK(a->use_count() == 2);
        ptr c = std::move(b);
        CHECK_FALSE(b);
        CHECK(a->use_count() == 2);
        c = ptr{};
        CHECK(a->use_count() == 1);
        CHECK(destroyed == 0);
    }
    CHECK(destroyed == 1);
}

TEST_CASE("release hands the reference to the caller, adopt takes it back", "[ref_ptr]") {
    destroyed = 0;
    ptr a = ptr::adopt(new counted_object);
    counted_object* raw = a.release();
    CHECK_FALSE(a);
    CHECK(destroyed == 0);
    ptr b = ptr::adopt(raw);
    CHECK(b.get() == raw);
    b = ptr{};
    CHECK(destroyed == 1);
}
