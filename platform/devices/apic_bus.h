// The interrupt-message fabric between local APICs and the IOAPIC (SDM Vol. 3 §10.6 for IPIs,
// 82093AA data sheet for IOAPIC messages). It resolves destinations (shorthands, physical,
// logical flat/cluster, x2APIC cluster, broadcast), picks one target for lowest-priority
// delivery (lowest arbitration priority, ties to the APIC attached first: deterministic) and
// carries EOI broadcasts back to the IOAPIC.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace vmxsim::platform {

class LocalApic;

// ICR / redirection-entry delivery modes (SDM Vol. 3 §10.6.1).
enum class DeliveryMode : uint8_t {
  kFixed = 0,
  kLowestPriority = 1,
  kSmi = 2,
  kNmi = 4,
  kInit = 5,
  kStartUp = 6,
  kExtInt = 7,
};

struct ApicMessage {
  uint8_t vector = 0;
  DeliveryMode mode = DeliveryMode::kFixed;
  bool logical = false;        // destination mode
  bool level = true;           // ICR bit 14 (0 with level trigger = INIT level de-assert)
  bool level_trigger = false;  // trigger mode
  uint8_t shorthand = 0;       // 0 none, 1 self, 2 all including self, 3 all excluding self
  uint32_t dest = 0;
  bool x2apic_dest = false;    // 32-bit x2APIC destination (broadcast 0xffffffff), else 8-bit
};

class ApicBus {
 public:
  // APICs are not owned; they must outlive the bus's use. Attach order breaks priority ties.
  void attach(LocalApic* apic) { m_apics.push_back(apic); }
  const std::vector<LocalApic*>& apics() const { return m_apics; }
  // The APIC whose current ID is `id`, or nullptr.
  LocalApic* find(uint32_t id) const;

  // Delivers `msg`. `source` is the sending local APIC (needed for the self shorthands), nullptr
  // for IOAPIC messages. Returns how many APICs accepted it.
  unsigned send(const ApicMessage& msg, LocalApic* source = nullptr);

  // Level-triggered EOI broadcast from a local APIC to the IOAPIC(s).
  void add_eoi_listener(std::function<void(uint8_t vector)> listener) {
    m_eoi_listeners.push_back(std::move(listener));
  }
  void broadcast_eoi(uint8_t vector) {
    for (auto& l : m_eoi_listeners) l(vector);
  }

 private:
  std::vector<LocalApic*> m_apics;
  std::vector<std::function<void(uint8_t)>> m_eoi_listeners;
};

}  // namespace vmxsim::platform
