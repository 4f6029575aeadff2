#include <gtest/gtest.h>

// libsystemc.so defines main() and calls sc_main(); this binary runs gtest itself.
int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
