#include <gtest/gtest.h>

// libsystemc.so (linked through vmxsim_devices) defines main() and calls sc_main(), declared
// extern "C" by SystemC; this binary runs gtest itself and never enters the kernel.
extern "C" int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
