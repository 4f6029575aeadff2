// A fault or trap raised by an instruction: thrown out of the handler, caught by the core's
// block loop, delivered through the IDT (or turned into a VM exit by the VMX unit).
#pragma once

#include <cstdint>

namespace vmxsim::cpu {

enum Vector : uint8_t {
  kDe = 0, kDb = 1, kNmi = 2, kBp = 3, kOf = 4, kBr = 5, kUd = 6, kNm = 7, kDf = 8,
  kTs = 10, kNp = 11, kSsFault = 12, kGp = 13, kPf = 14, kMf = 16, kAc = 17, kMc = 18, kXm = 19,
  kVe = 20, kCp = 21,
};

// #PF error code bits (SDM Vol. 3 §4.7).
namespace pf {
constexpr uint32_t kP = 1 << 0, kW = 1 << 1, kU = 1 << 2, kRsvd = 1 << 3, kI = 1 << 4,
                   kPk = 1 << 5;
}

struct GuestFault {
  uint8_t vector;
  bool has_error;
  uint32_t error;
  uint64_t cr2;  // faulting linear address for #PF (CR2 is written when the fault is delivered)
};

}  // namespace vmxsim::cpu
