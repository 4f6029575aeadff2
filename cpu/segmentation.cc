// Segment-register loads with descriptor checks (SDM Vol. 3 §3.4-§3.5, §5.5-§5.8).
#include "cpu/core.h"

namespace vmxsim::cpu {

namespace {
constexpr uint32_t kDescAccessed = 1u << 8;  // in the high dword of a descriptor
}

Segment Core::segment_from_descriptor(uint16_t selector, uint64_t d) {
  Segment sg;
  sg.selector = selector;
  sg.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
  uint32_t limit = static_cast<uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
  sg.ar = static_cast<uint32_t>(((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 12));
  if (sg.ar & ar::kG) limit = (limit << 12) | 0xfff;
  sg.limit = limit;
  return sg;
}

uint64_t Core::read_descriptor(uint16_t selector, uint8_t fault_vector) {
  const uint32_t err = selector & 0xfffc;
  uint64_t base;
  uint32_t limit;
  if (selector & 4) {
    if (s.ldtr.ar & ar::kUnusable || (s.ldtr.selector & 0xfffc) == 0) raise(fault_vector, err);
    base = s.ldtr.base;
    limit = s.ldtr.limit;
  } else {
    base = s.gdtr.base;
    limit = s.gdtr.limit;
  }
  const uint32_t off = selector & 0xfff8;
  if (off + 7 > limit) raise(fault_vector, err);
  return read_system(base + off, 8);
}

void Core::set_segment(unsigned seg, const Segment& v) {
  s.seg[seg] = v;
  update_seg_base(seg);
  if (seg == kCs || seg == kSs) mode_changed();
}

void Core::mark_descriptor_accessed(uint16_t selector, uint64_t desc) {
  if ((selector & 0xfffc) == 0 || (desc & (1ull << 40))) return;
  const uint64_t table = (selector & 4) ? s.ldtr.base : s.gdtr.base;
  const uint64_t addr = table + (selector & 0xfff8) + 4;
  write_system(addr, 4, static_cast<uint32_t>(desc >> 32) | kDescAccessed);
}

Segment Core::check_segment_load(unsigned seg, uint16_t selector, unsigned cpl, bool in64, uint64_t& desc) {
  const uint32_t err = selector & 0xfffc;
  const unsigned rpl = selector & 3;
  desc = 0;
  if ((selector & 0xfffc) == 0) {
    if (seg == kSs) {
      // A null SS is legal only in 64-bit mode at CPL < 3 with RPL == CPL (SDM MOV/POP).
      if (!in64 || cpl == 3 || rpl != cpl) raise_gp0();
    }
    Segment sg;
    sg.selector = selector;
    sg.base = 0;
    sg.limit = 0;
    sg.ar = ar::kUnusable | (seg == kSs ? (cpl << ar::kDplShift) : 0);
    return sg;
  }
  desc = read_descriptor(selector, kGp);
  Segment sg = segment_from_descriptor(selector, desc);
  const uint32_t type = sg.ar & ar::kTypeMask;
  const unsigned dpl = (sg.ar >> ar::kDplShift) & 3;
  if (!(sg.ar & ar::kS)) raise(kGp, err);
  if (seg == kSs) {
    if (rpl != cpl || dpl != cpl) raise(kGp, err);
    if ((type & ar::kCodeBit) || !(type & ar::kDataWritable)) raise(kGp, err);
    if (!(sg.ar & ar::kP)) raise(kSsFault, err);
  } else {
    const bool code = type & ar::kCodeBit;
    if (code && !(type & ar::kCodeReadable)) raise(kGp, err);
    if (!code || !(type & ar::kCodeConforming)) {
      if (rpl > dpl || cpl > dpl) raise(kGp, err);
    }
    if (!(sg.ar & ar::kP)) raise(kNp, err);
  }
  sg.ar |= ar::kAccessed;
  return sg;
}

void Core::load_segment(unsigned seg, uint16_t selector) {
  if (!protected_mode() || v86_mode()) {
    Segment sg = s.seg[seg];
    sg.selector = selector;
    sg.base = static_cast<uint64_t>(selector) << 4;
    if (v86_mode()) {
      sg.limit = 0xffff;
      sg.ar = ar::kP | ar::kS | (3u << ar::kDplShift) | ar::kDataWritable | ar::kAccessed |
              (seg == kCs ? ar::kCodeBit : 0);
    }
    sg.ar &= ~ar::kUnusable;
    set_segment(seg, sg);
    return;
  }
  uint64_t desc;
  const Segment sg = check_segment_load(seg, selector, m_cpl, in_64bit_mode(), desc);
  mark_descriptor_accessed(selector, desc);
  set_segment(seg, sg);
}

}  // namespace vmxsim::cpu
