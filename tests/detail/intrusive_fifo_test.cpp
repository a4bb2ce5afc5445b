// Tests for weft/detail/intrusive_fifo.hpp (work_item_fifo, op_fifo).
#include <weft/detail/intrusive_fifo.hpp>

#include <vector>

#include "catch.hpp"

namespace {
struct node {
    int value = 0;
    node* link = nullptr;
};
struct node_link {
    static node*& next(node* n) noexcept { return n->link; }
};
using fifo = weft::detail::intrusive_fifo<node, node_link>;
} // namespace

TEST_CASE("items come out in the order they went in, and the fifo is empty after", "[intrusive_fifo]") {
    std::vector<node> nodes(5);
    fifo f;
    CHECK(f.empty());
    CHECK(f.pop() == nullptr);
    for (int i = 0; i < 5; ++i) {
        nodes[static_cast<std::size_t>(i)].value = i;
        f.push(&nodes[static_cast<std::size_t>(i)]);
    }
    for (int i = 0; i < 5; ++i) {
        node* n = f.pop();
        REQUIRE(n != nullptr);
        CHECK(n->value == i);
        CHECK(n->link == nullptr); // a popped item is unlinked
    }
    CHECK(f.empty());
    CHECK(f.tail == nullptr);
}

TEST_CASE("remove unlinks an item from the head, the middle or the tail, and only if present", "[intrusive_fifo]") {
    std::vector<node> nodes(4);
    fifo f;
    for (int i = 0; i < 4; ++i) {
        nodes[static_cast<std::size_t>(i)].value = i;
        f.push(&nodes[static_cast<std::size_t>(i)]);
    }
    CHECK(f.remove(&nodes[1])); // middle
    CHECK_FALSE(f.remove(&nodes[1]));
    CHECK(f.remove(&nodes[3])); // tail: the tail moves back
    CHECK(f.tail == &nodes[2]);
    CHECK(f.remove(&nodes[0])); // head
    f.push(&nodes[3]);          // pushing after removals links behind the right tail
    CHECK(f.pop() == &nodes[2]);
    CHECK(f.pop() == &nodes[3]);
    CHECK(f.empty());
}
