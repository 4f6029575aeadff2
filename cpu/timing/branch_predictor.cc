#include "cpu/timing/branch_predictor.h"

namespace vmxsim::cpu::timing {

BranchPredictor::BranchPredictor(const TimingParams& p)
    : m_counters(size_t{1} << p.bp_table_bits, 1),
      m_index_mask((uint64_t{1} << p.bp_table_bits) - 1),
      m_history_mask(p.bp_history_bits >= 64 ? ~0ull : (uint64_t{1} << p.bp_history_bits) - 1),
      m_btb(p.btb_entries, ~0ull),
      m_ras(p.ras_entries, ~0ull) {}

bool BranchPredictor::conditional(uint64_t pc, bool taken) {
  ++m_stats.conditional;
  // Instructions are at least a byte apart; drop no address bits (short loops pack branches).
  uint8_t& c = m_counters[(pc ^ m_history) & m_index_mask];
  const bool predicted = c >= 2;
  if (taken) {
    if (c < 3) ++c;
  } else if (c > 0) {
    --c;
  }
  m_history = ((m_history << 1) | (taken ? 1 : 0)) & m_history_mask;
  const bool wrong = predicted != taken;
  m_stats.conditional_mispredicts += wrong;
  return wrong;
}

bool BranchPredictor::indirect(uint64_t pc, uint64_t target) {
  ++m_stats.indirect;
  bool wrong = true;
  if (!m_btb.empty()) {
    uint64_t& slot = m_btb[pc % m_btb.size()];
    wrong = slot != target;
    slot = target;
  }
  m_stats.indirect_mispredicts += wrong;
  return wrong;
}

void BranchPredictor::push_return(uint64_t addr) {
  if (m_ras.empty()) return;
  m_ras[m_ras_top % m_ras.size()] = addr;
  ++m_ras_top;
  if (m_ras_depth < m_ras.size()) ++m_ras_depth;
}

bool BranchPredictor::ret(uint64_t target) {
  ++m_stats.returns;
  bool wrong = true;
  if (m_ras_depth) {
    --m_ras_top;
    --m_ras_depth;
    wrong = m_ras[m_ras_top % m_ras.size()] != target;
  }
  m_stats.return_mispredicts += wrong;
  return wrong;
}

bool BranchPredictor::resolve(BranchKind kind, uint64_t pc, uint64_t target, uint64_t fallthrough) {
  switch (kind) {
    case BranchKind::kConditional: return conditional(pc, target != fallthrough);
    case BranchKind::kDirect: return false;
    case BranchKind::kDirectCall: push_return(fallthrough); return false;
    case BranchKind::kIndirect: return indirect(pc, target);
    case BranchKind::kIndirectCall: push_return(fallthrough); return indirect(pc, target);
    case BranchKind::kReturn: return ret(target);
    default: return false;
  }
}

}  // namespace vmxsim::cpu::timing
