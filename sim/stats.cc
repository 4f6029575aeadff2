// Statistics registry and the JSON helpers shared with the configuration writer.
#include "sim/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace vmxsim {

namespace {

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of a well-formed UTF-8 sequence starting at s[i], or 0 if it is not well formed
// (overlong forms, surrogates and code points above U+10FFFF are rejected).
size_t utf8_sequence_length(const std::string& s, size_t i) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  const size_t left = s.size() - i;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (c0 < 0x80) return 1;
  if (c0 >= 0xC2 && c0 <= 0xDF) return (left >= 2 && is_cont(at(1))) ? 2 : 0;
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    if (left < 3 || !is_cont(at(1)) || !is_cont(at(2))) return 0;
    if (c0 == 0xE0 && at(1) < 0xA0) return 0;  // overlong
    if (c0 == 0xED && at(1) > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    if (left < 4 || !is_cont(at(1)) || !is_cont(at(2)) || !is_cont(at(3))) return 0;
    if (c0 == 0xF0 && at(1) < 0x90) return 0;  // overlong
    if (c0 == 0xF4 && at(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

double sanitize(double v) { return std::isfinite(v) ? v : 0.0; }

// Human-readable double for the text listing: up to six decimals, trailing zeros trimmed; very
// small or very large magnitudes in exponent form.
std::string format_double_text(double d) {
  char buf[64];
  const double a = std::fabs(d);
  if (d != 0 && (a < 1e-3 || a >= 1e15)) {
    std::snprintf(buf, sizeof buf, "%.6g", d);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.6f", d);
  std::string s = buf;
  const size_t dot = s.find('.');
  if (dot != std::string::npos) {
    size_t end = s.size();
    while (end > dot + 2 && s[end - 1] == '0') --end;
    s.resize(end);
  }
  return s;
}

std::string value_text(const StatValue& v) {
  return v.is_integer ? std::to_string(v.u) : format_double_text(v.d);
}

}  // namespace

std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
      continue;
    }
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string format_double(double d) {
  char buf[64];
  if (!std::isfinite(d)) {
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }
  // %g drops trailing zeros, so the first precision that round-trips is the shortest form.
  for (int prec = 15; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

void StatRegistry::claim_name(const std::string& name) {
  if (name.empty()) throw std::logic_error("statistic with an empty name");
  if (!m_names.insert(name).second)
    throw std::logic_error("statistic '" + name + "' registered twice");
}

void StatRegistry::add_counter(const std::string& name, const std::string& unit,
                               const std::string& desc, const uint64_t* counter) {
  if (!counter) throw std::logic_error("statistic '" + name + "': null counter");
  claim_name(name);
  Entry e;
  e.name = name;
  e.unit = unit;
  e.desc = desc;
  e.counter = counter;
  m_entries.push_back(std::move(e));
}

void StatRegistry::add_vector(const std::string& name, const std::string& unit,
                              const std::string& desc, const uint64_t* counters, size_t count,
                              std::function<std::string(size_t)> label) {
  if (!counters && count > 0) throw std::logic_error("statistic '" + name + "': null counters");
  if (name.empty()) throw std::logic_error("statistic with an empty name");
  Entry e;
  e.name = name;
  e.unit = unit;
  e.desc = desc;
  e.vec = counters;
  e.count = count;
  e.labels.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string l = label ? label(i) : std::to_string(i);
    if (l.empty())
      throw std::logic_error("statistic '" + name + "': empty label for element " +
                             std::to_string(i));
    e.labels.push_back(std::move(l));
  }
  // Check every name before claiming any, so a failed registration changes nothing.
  std::set<std::string> names{name};
  if (m_names.count(name)) throw std::logic_error("statistic '" + name + "' registered twice");
  for (const auto& l : e.labels) {
    const std::string full = name + "." + l;
    if (m_names.count(full) || !names.insert(full).second)
      throw std::logic_error("statistic '" + full + "' registered twice");
  }
  m_names.insert(names.begin(), names.end());
  e.label = std::move(label);
  m_entries.push_back(std::move(e));
}

void StatRegistry::add_formula(const std::string& name, const std::string& unit,
                               const std::string& desc, std::function<double()> formula) {
  if (!formula) throw std::logic_error("statistic '" + name + "': empty formula");
  claim_name(name);
  Entry e;
  e.name = name;
  e.unit = unit;
  e.desc = desc;
  e.formula = std::move(formula);
  m_entries.push_back(std::move(e));
}

std::vector<StatValue> StatRegistry::snapshot() const {
  std::vector<StatValue> out;
  out.reserve(m_entries.size());
  for (const Entry& e : m_entries) {
    if (e.counter) {
      const uint64_t u = *e.counter;
      out.push_back({e.name, e.unit, e.desc, true, u, static_cast<double>(u)});
    } else if (e.formula) {
      out.push_back({e.name, e.unit, e.desc, false, 0, sanitize(e.formula())});
    } else {
      for (size_t i = 0; i < e.count; ++i) {
        const uint64_t u = e.vec[i];
        if (u == 0) continue;
        out.push_back({e.name + "." + e.labels[i], e.unit, e.desc, true, u,
                       static_cast<double>(u)});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const StatValue& a, const StatValue& b) { return a.name < b.name; });
  return out;
}

std::string StatRegistry::to_text() const {
  const std::vector<StatValue> values = snapshot();
  std::vector<std::string> texts;
  texts.reserve(values.size());
  size_t name_w = 0, value_w = 0, unit_w = 0;
  for (const StatValue& v : values) {
    texts.push_back(value_text(v));
    name_w = std::max(name_w, v.name.size());
    value_w = std::max(value_w, texts.back().size());
    unit_w = std::max(unit_w, v.unit.size());
  }
  std::string out;
  for (size_t k = 0; k < values.size(); ++k) {
    const StatValue& v = values[k];
    std::string line = v.name;
    line.append(name_w - v.name.size() + 2, ' ');
    line.append(value_w - texts[k].size(), ' ');
    line += texts[k];
    if (unit_w > 0) {
      line += "  ";
      line += v.unit;
      line.append(unit_w - v.unit.size(), ' ');
    }
    if (!v.description.empty()) {
      line += "  # ";
      line += v.description;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string StatRegistry::to_json() const {
  const std::vector<StatValue> values = snapshot();
  if (values.empty()) return "{}";
  std::string out = "{\n";
  for (size_t k = 0; k < values.size(); ++k) {
    const StatValue& v = values[k];
    out += "  \"" + json_escape(v.name) + "\": {\"value\": ";
    out += v.is_integer ? std::to_string(v.u) : format_double(v.d);
    out += ", \"unit\": \"" + json_escape(v.unit) + "\", \"description\": \"" +
           json_escape(v.description) + "\"}";
    out += k + 1 < values.size() ? ",\n" : "\n";
  }
  out += "}";
  return out;
}

double StatRegistry::value(const std::string& name) const {
  for (const Entry& e : m_entries) {
    if (e.name == name) {
      if (e.counter) return static_cast<double>(*e.counter);
      if (e.formula) return sanitize(e.formula());
      uint64_t sum = 0;
      for (size_t i = 0; i < e.count; ++i) sum += e.vec[i];
      return static_cast<double>(sum);
    }
    if (e.vec && name.size() > e.name.size() + 1 && name.compare(0, e.name.size(), e.name) == 0 &&
        name[e.name.size()] == '.') {
      const std::string label = name.substr(e.name.size() + 1);
      for (size_t i = 0; i < e.count; ++i)
        if (e.labels[i] == label) return static_cast<double>(e.vec[i]);
    }
  }
  throw std::out_of_range("unknown statistic '" + name + "'");
}

}  // namespace vmxsim
