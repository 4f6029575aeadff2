// Guest segment registers in the VMCS: the ES..GS field groups follow the SegReg order
// (ES, CS, SS, DS, FS, GS), then LDTR and TR, for selectors, bases, limits and access rights.
#pragma once

#include "cpu/cpu_state.h"
#include "vmx_model/vmcs.h"

namespace vmxsim::vmx {

inline VmcsField field_plus(VmcsField f, unsigned i) {
  return static_cast<VmcsField>(static_cast<unsigned>(f) + i);
}

// Slot 0-5: ES..GS, 6: LDTR, 7: TR.
inline cpu::Segment guest_segment_slot(const Vmcs& v, unsigned slot) {
  cpu::Segment s;
  s.selector = static_cast<uint16_t>(v.get(field_plus(VmcsField::GUEST_ES_SELECTOR, slot)));
  s.base = v.get(field_plus(VmcsField::GUEST_ES_BASE, slot));
  s.limit = v.get32(field_plus(VmcsField::GUEST_ES_LIMIT, slot));
  s.ar = v.get32(field_plus(VmcsField::GUEST_ES_AR_BYTES, slot));
  return s;
}
inline void set_guest_segment_slot(Vmcs& v, unsigned slot, const cpu::Segment& s) {
  v.set(field_plus(VmcsField::GUEST_ES_SELECTOR, slot), s.selector);
  v.set(field_plus(VmcsField::GUEST_ES_BASE, slot), s.base);
  v.set(field_plus(VmcsField::GUEST_ES_LIMIT, slot), s.limit);
  v.set(field_plus(VmcsField::GUEST_ES_AR_BYTES, slot), s.ar);
}
inline cpu::Segment guest_segment(const Vmcs& v, unsigned seg) { return guest_segment_slot(v, seg); }
inline cpu::Segment guest_ldtr(const Vmcs& v) { return guest_segment_slot(v, 6); }
inline cpu::Segment guest_tr(const Vmcs& v) { return guest_segment_slot(v, 7); }

}  // namespace vmxsim::vmx
