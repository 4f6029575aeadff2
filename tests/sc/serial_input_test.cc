// The serial line's input (one topology per process, TOOLCHAIN pitfall 3): a file's bytes enter
// the UART only while the guest asserts RTS, never overrun the 16-byte FIFO, and arrive at the
// same simulated times in every run; an unreadable file is a clear error.
#include <gtest/gtest.h>

#include <systemc>

#include <cstdio>
#include <fstream>
#include <string>

#include "platform/devices/serial_input.h"
#include "platform/devices/uart16550.h"
#include "sim/config.h"
#include "sim/stats.h"

using namespace sc_core;
namespace plat = vmxsim::platform;

namespace {

std::string write_file(const std::string& text) {
  const std::string path = ::testing::TempDir() + "vmxsim_serial_input.txt";
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(SerialInput, FileBytesEnterWithFlowControlAndWithoutOverrun) {
  vmxsim::Config cfg;
  vmxsim::StatRegistry stats;
  plat::Uart16550 uart(cfg, stats, "uart", nullptr);
  const std::string text = "0123456789abcdefghijklmnopqrstuvwxyz\n";  // 37 bytes: more than a FIFO
  plat::SerialInput input("input", uart, write_file(text), 100'000);
  auto lsr = [&] { return uart.io_read(5, 1, 0); };

  sc_start(1, SC_MS);
  EXPECT_EQ(lsr() & 1, 0u) << "nothing enters while RTS is clear";
  uart.io_write(4, 1, 0x0b, 0);  // DTR | RTS | OUT2, as a driver opening the port
  sc_start(150, SC_US);
  ASSERT_EQ(lsr() & 1, 1u);
  std::string got;
  for (int round = 0; round < 10 && got.size() < text.size(); ++round) {
    while (uart.io_read(5, 1, 0) & 1) got += static_cast<char>(uart.io_read(0, 1, 0));
    EXPECT_EQ(lsr() & 2, 0u) << "no overrun";
    sc_start(100, SC_US);
  }
  EXPECT_EQ(got, text);
  EXPECT_EQ(input.bytes_delivered(), text.size());
  EXPECT_EQ(stats.value("uart.rx_bytes"), double(text.size()));
  std::remove(write_file("").c_str());
}

TEST(SerialInput, UnreadableFileIsAnError) {
  vmxsim::Config cfg;
  vmxsim::StatRegistry stats;
  plat::Uart16550 uart(cfg, stats, "uart", nullptr);
  try {
    plat::SerialInput input("input", uart, "/nonexistent/serial.txt", 100'000);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open serial input file '/nonexistent/serial.txt'"), std::string::npos)
        << e.what();
  }
}

}  // namespace

int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
