#include "platform/devices/apic_bus.h"

#include "platform/devices/local_apic.h"

namespace vmxsim::platform {

LocalApic* ApicBus::find(uint32_t id) const {
  for (LocalApic* a : m_apics)
    if (a->id() == id) return a;
  return nullptr;
}

unsigned ApicBus::send(const ApicMessage& msg, LocalApic* source) {
  // Collect the destination set (SDM §10.6.2).
  LocalApic* targets[256];
  unsigned n = 0;
  for (LocalApic* a : m_apics) {
    if (!a->hw_enabled() || n == 256) continue;
    bool hit = false;
    switch (msg.shorthand) {
      case 1: hit = a == source; break;
      case 2: hit = true; break;
      case 3: hit = a != source; break;
      default:
        hit = msg.logical ? a->matches_logical(msg.dest, msg.x2apic_dest)
                          : a->matches_physical(msg.dest, msg.x2apic_dest);
    }
    if (hit) targets[n++] = a;
  }
  if (msg.mode == DeliveryMode::kLowestPriority && n > 1) {
    // One target: the lowest arbitration priority, first attached on a tie.
    LocalApic* best = targets[0];
    for (unsigned i = 1; i < n; ++i)
      if (targets[i]->apr() < best->apr()) best = targets[i];
    targets[0] = best;
    n = 1;
  }
  for (unsigned i = 0; i < n; ++i)
    targets[i]->accept(msg.vector, msg.mode, msg.level, msg.level_trigger);
  return n;
}

}  // namespace vmxsim::platform
