// The configuration property tree (see config.h).
#include "sim/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "sim/stats.h"  // json_escape, format_double

namespace vmxsim {

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::UInt: return "uint";
    case ParamType::Double: return "double";
    case ParamType::String: return "string";
  }
  return "?";
}

namespace {

constexpr const char* kKeySyntax = "keys are dot-separated, non-empty segments of [a-z0-9_]";

bool valid_key(const std::string& k) {
  bool segment_empty = true;
  for (char c : k) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;  // also rejects the empty key and a trailing dot
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

int digit_value(char c, unsigned base) {
  int d = -1;
  if (c >= '0' && c <= '9') d = c - '0';
  else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
  return d >= 0 && static_cast<unsigned>(d) < base ? d : -1;
}

// Parses s[pos..]: decimal or 0x hex digits with '_' allowed between digits, a decimal exponent
// (e/E and digits, decimal only), then an optional binary size suffix. False on any malformed text or on overflow of 64 bits.
bool parse_magnitude(const std::string& s, size_t pos, uint64_t& out) {
  unsigned base = 10;
  if (s.size() - pos >= 2 && s[pos] == '0' && (s[pos + 1] == 'x' || s[pos + 1] == 'X')) {
    base = 16;
    pos += 2;
  }
  uint64_t v = 0;
  size_t ndigits = 0;
  bool after_separator = false;
  for (; pos < s.size(); ++pos) {
    const char c = s[pos];
    if (c == '_') {
      if (ndigits == 0 || after_separator) return false;
      after_separator = true;
      continue;
    }
    const int d = digit_value(c, base);
    if (d < 0) break;
    if (v > (UINT64_MAX - static_cast<unsigned>(d)) / base) return false;
    v = v * base + static_cast<unsigned>(d);
    ++ndigits;
    after_separator = false;
  }
  if (ndigits == 0 || after_separator) return false;
  // A decimal exponent (2e10 instructions): exact integers only, checked for overflow.
  if (base == 10 && pos + 1 < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    unsigned exp = 0;
    size_t epos = pos + 1;
    for (; epos < s.size() && s[epos] >= '0' && s[epos] <= '9'; ++epos) {
      exp = exp * 10 + static_cast<unsigned>(s[epos] - '0');
      if (exp > 19) return false;
    }
    if (epos == pos + 1) return false;
    for (unsigned i = 0; i < exp; ++i) {
      if (v > UINT64_MAX / 10) return false;
      v *= 10;
    }
    pos = epos;
  }
  static const std::pair<const char*, unsigned> kSuffixes[] = {
      {"K", 10}, {"M", 20}, {"G", 30}, {"T", 40},
      {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
  unsigned shift = 0;
  if (pos < s.size()) {
    const char* suffix = s.c_str() + pos;
    bool found = false;
    for (const auto& [name, sh] : kSuffixes) {
      if (std::strcmp(suffix, name) == 0) {
        shift = sh;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return false;
  out = v << shift;
  return true;
}

bool parse_uint(const std::string& s, uint64_t& out) { return parse_magnitude(s, 0, out); }

bool parse_int(const std::string& s, int64_t& out) {
  const bool negative = !s.empty() && s[0] == '-';
  uint64_t mag = 0;
  if (!parse_magnitude(s, negative ? 1 : 0, mag)) return false;
  constexpr uint64_t kMaxPos = static_cast<uint64_t>(INT64_MAX);
  if (negative) {
    if (mag > kMaxPos + 1) return false;
    out = mag == kMaxPos + 1 ? INT64_MIN : -static_cast<int64_t>(mag);
  } else {
    if (mag > kMaxPos) return false;
    out = static_cast<int64_t>(mag);
  }
  return true;
}

bool parse_bool(const std::string& s, bool& out) {
  std::string l = s;
  for (char& c : l) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (l == "true" || l == "on" || l == "1" || l == "yes") {
    out = true;
    return true;
  }
  if (l == "false" || l == "off" || l == "0" || l == "no") {
    out = false;
    return true;
  }
  return false;
}

bool parse_double(const std::string& s, double& out) {
  // strtod skips leading whitespace; we do not.
  if (s.empty() || std::strchr(" \t\r\n\f\v", s[0]) != nullptr) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;  // trailing text or embedded NUL
  if (!std::isfinite(v)) return false;            // inf, nan, overflow
  out = v;
  return true;
}

std::string with_unit(const std::string& what, const std::string& unit) {
  return unit.empty() ? what : what + " (" + unit + ")";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

size_t levenshtein(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// A string value for to_text that load_file reads back unchanged: as is when that is safe, else
// as a quoted JSON-style string literal.
std::string quote_if_needed(const std::string& s) {
  bool needs = s.empty() || s.front() == '"' || trim(s) != s;
  for (char c : s)
    if (c == '#' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) needs = true;
  return needs ? "\"" + json_escape(s) + "\"" : s;
}

// Single-line text for a comment: control characters become spaces.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes the quoted string literal starting at s[0] == '"' (JSON escapes). Returns the index
// just past the closing quote; throws std::runtime_error with a short reason on bad syntax.
size_t parse_quoted(const std::string& s, std::string& out) {
  auto hex4 = [&](size_t at) -> unsigned {
    if (at + 4 > s.size()) throw std::runtime_error("short \\u escape in quoted value");
    unsigned v = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const int d = digit_value(s[k], 16);
      if (d < 0) throw std::runtime_error("bad \\u escape in quoted value");
      v = v * 16 + static_cast<unsigned>(d);
    }
    return v;
  };
  size_t i = 1;
  for (;;) {
    if (i >= s.size()) throw std::runtime_error("unterminated quoted value");
    const char c = s[i++];
    if (c == '"') return i;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= s.size()) throw std::runtime_error("unterminated quoted value");
    const char e = s[i++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        unsigned cp = hex4(i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && s.compare(i, 2, "\\u") == 0) {
          const unsigned lo = hex4(i + 2);
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
          throw std::runtime_error("unpaired surrogate in quoted value");
        append_utf8(out, cp);
        break;
      }
      default:
        throw std::runtime_error(std::string("bad escape '\\") + e + "' in quoted value");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Declaration

Config::Entry* Config::find_declared(const std::string& name, ParamType type) {
  auto it = m_entries.find(name);
  if (it == m_entries.end()) return nullptr;
  if (it->second.info.type != type)
    throw std::logic_error("configuration key '" + name + "' declared as " + to_string(type) +
                           " but already declared as " + to_string(it->second.info.type));
  return &it->second;
}

Config::Entry Config::make_entry(const std::string& name, ParamType type, const std::string& unit,
                                 const std::string& desc) {
  if (!valid_key(name))
    throw std::logic_error("invalid configuration key '" + name + "' declared: " + kKeySyntax);
  Entry e;
  e.info.name = name;
  e.info.type = type;
  e.info.unit = unit;
  e.info.description = desc;
  e.info.source = "default";
  return e;
}

Config::Entry& Config::install(Entry e) {
  e.info.default_text = e.info.value_text;
  const std::string& name = e.info.name;
  if (auto p = m_profile_overrides.find(name); p != m_profile_overrides.end())
    apply_text(e, p->second.text, p->second.source, p->second.where);
  if (auto o = m_overrides.find(name); o != m_overrides.end())
    apply_text(e, o->second.text, o->second.source, o->second.where);
  return m_entries.emplace(name, std::move(e)).first->second;
}

bool Config::declare_bool(const std::string& name, bool def, const std::string& desc) {
  if (Entry* e = find_declared(name, ParamType::Bool)) return e->b;
  Entry e = make_entry(name, ParamType::Bool, "", desc);
  e.b = def;
  e.info.value_text = def ? "true" : "false";
  return install(std::move(e)).b;
}

int64_t Config::declare_int(const std::string& name, int64_t def, const std::string& unit,
                            const std::string& desc, int64_t min, int64_t max) {
  if (Entry* e = find_declared(name, ParamType::Int)) return e->i;
  Entry e = make_entry(name, ParamType::Int, unit, desc);
  if (min > max || def < min || def > max)
    throw std::logic_error("configuration key '" + name + "': default " + std::to_string(def) +
                           " not in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  e.info.min_int = min;
  e.info.max_int = max;
  e.i = def;
  e.info.value_text = std::to_string(def);
  return install(std::move(e)).i;
}

uint64_t Config::declare_uint(const std::string& name, uint64_t def, const std::string& unit,
                              const std::string& desc, uint64_t min, uint64_t max) {
  if (Entry* e = find_declared(name, ParamType::UInt)) return e->u;
  Entry e = make_entry(name, ParamType::UInt, unit, desc);
  if (min > max || def < min || def > max)
    throw std::logic_error("configuration key '" + name + "': default " + std::to_string(def) +
                           " not in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  e.info.min_uint = min;
  e.info.max_uint = max;
  e.u = def;
  e.info.value_text = std::to_string(def);
  return install(std::move(e)).u;
}

double Config::declare_double(const std::string& name, double def, const std::string& unit,
                              const std::string& desc) {
  if (Entry* e = find_declared(name, ParamType::Double)) return e->d;
  Entry e = make_entry(name, ParamType::Double, unit, desc);
  if (!std::isfinite(def))
    throw std::logic_error("configuration key '" + name + "': default is not finite");
  e.d = def;
  e.info.value_text = format_double(def);
  return install(std::move(e)).d;
}

std::string Config::declare_string(const std::string& name, const std::string& def,
                                   const std::string& desc, std::vector<std::string> choices) {
  if (Entry* e = find_declared(name, ParamType::String)) return e->s;
  Entry e = make_entry(name, ParamType::String, "", desc);
  if (!choices.empty() && std::find(choices.begin(), choices.end(), def) == choices.end())
    throw std::logic_error("configuration key '" + name + "': default '" + def +
                           "' is not one of: " + join(choices, ", "));
  e.info.choices = std::move(choices);
  e.s = def;
  e.info.value_text = def;
  return install(std::move(e)).s;
}

// ---------------------------------------------------------------------------------------------
// Values

void Config::apply_text(Entry& e, const std::string& text, const std::string& source,
                        const std::string& where) {
  const ParamInfo& info = e.info;
  auto fail = [&](const std::string& expected) {
    std::string msg = "bad value '" + text + "' for " + info.name + ": expected " + expected;
    if (!where.empty()) msg += " (set by " + where + ")";
    throw ConfigError(msg);
  };
  switch (info.type) {
    case ParamType::Bool: {
      bool v = false;
      if (!parse_bool(text, v)) fail("a boolean (true/false/on/off/1/0/yes/no)");
      e.b = v;
      e.info.value_text = v ? "true" : "false";
      break;
    }
    case ParamType::Int: {
      int64_t v = 0;
      if (!parse_int(text, v) || v < info.min_int || v > info.max_int)
        fail(with_unit("an integer", info.unit) + " in [" + std::to_string(info.min_int) + ", " +
             std::to_string(info.max_int) + "]");
      e.i = v;
      e.info.value_text = std::to_string(v);
      break;
    }
    case ParamType::UInt: {
      uint64_t v = 0;
      if (!parse_uint(text, v) || v < info.min_uint || v > info.max_uint)
        fail(with_unit("an unsigned integer", info.unit) + " in [" +
             std::to_string(info.min_uint) + ", " + std::to_string(info.max_uint) + "]");
      e.u = v;
      e.info.value_text = std::to_string(v);
      break;
    }
    case ParamType::Double: {
      double v = 0;
      if (!parse_double(text, v)) fail(with_unit("a finite number", info.unit));
      e.d = v;
      e.info.value_text = format_double(v);
      break;
    }
    case ParamType::String: {
      if (!info.choices.empty() &&
          std::find(info.choices.begin(), info.choices.end(), text) == info.choices.end())
        fail("one of: " + join(info.choices, ", "));
      e.s = text;
      e.info.value_text = text;
      break;
    }
  }
  e.info.source = source;
}

void Config::set_override(const std::string& name, const std::string& value,
                          const std::string& source, const std::string& where) {
  if (!valid_key(name))
    throw ConfigError("invalid configuration key '" + name + "': " + kKeySyntax);
  if (auto it = m_entries.find(name); it != m_entries.end())
    apply_text(it->second, value, source);  // throws before changing anything
  m_overrides[name] = Override{value, source, where};
}

void Config::set(const std::string& name, const std::string& value, const std::string& source) {
  set_override(name, value, source, source);
}

void Config::set_assignment(const std::string& assignment, const std::string& source) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos)
    throw ConfigError("expected key=value, got '" + assignment + "'");
  set(trim(assignment.substr(0, eq)), trim(assignment.substr(eq + 1)), source);
}

void Config::set_profile_value(const std::string& name, const std::string& value,
                               const std::string& profile_name) {
  if (!valid_key(name))
    throw ConfigError("invalid configuration key '" + name + "' in profile " + profile_name +
                      ": " + kKeySyntax);
  const std::string source = "profile:" + profile_name;
  if (auto it = m_entries.find(name); it != m_entries.end()) {
    if (m_overrides.count(name)) {
      Entry scratch = it->second;  // validate only: set() has priority
      apply_text(scratch, value, source);
    } else {
      apply_text(it->second, value, source);
    }
  }
  m_profile_overrides[name] = Override{value, source, source};
}

void Config::load_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f)
    throw ConfigError("cannot open config file '" + path + "': " + std::strerror(errno));
  std::string content;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) content.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed)
    throw ConfigError("cannot read config file '" + path + "': " + std::strerror(err));

  const std::string source = "file:" + path;
  size_t line_no = 0, pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    const std::string line = content.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    auto fail = [&](const std::string& msg) { throw ConfigError(where + ": " + msg); };

    const size_t eq = line.find('=');
    const size_t hash = line.find('#');
    if (eq == std::string::npos || (hash != std::string::npos && hash < eq)) {
      // Only blank and comment lines may lack an assignment.
      if (!trim(line.substr(0, hash)).empty())
        fail("expected 'key = value', got '" + trim(line) + "'");
      continue;
    }
    const std::string key = trim(line.substr(0, eq));
    std::string rest = trim(line.substr(eq + 1));
    std::string value;
    if (!rest.empty() && rest[0] == '"') {
      size_t end = 0;
      try {
        end = parse_quoted(rest, value);
      } catch (const std::runtime_error& e) {
        fail(e.what());
      }
      const std::string after = trim(rest.substr(end));
      if (!after.empty() && after[0] != '#')
        fail("unexpected text after quoted value: '" + after + "'");
    } else {
      value = trim(rest.substr(0, rest.find('#')));
    }
    try {
      set_override(key, value, source, where);
    } catch (const ConfigError& e) {
      fail(e.what());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reads

std::string Config::unknown_key_message(const std::string& name) const {
  std::string msg = "unknown configuration key '" + name + "'";
  const std::string* best = nullptr;
  size_t best_d = name.size() / 3 + 1;  // accept distance <= len/3
  for (const auto& [key, entry] : m_entries) {
    const size_t diff = key.size() > name.size() ? key.size() - name.size()
                                                 : name.size() - key.size();
    if (diff >= best_d) continue;  // the distance is at least the length difference
    const size_t d = levenshtein(name, key);
    if (d < best_d && d * 3 <= name.size()) {
      best_d = d;
      best = &key;
    }
  }
  if (best) msg += "; did you mean '" + *best + "'?";
  return msg;
}

const Config::Entry& Config::get_entry(const std::string& name, ParamType type) const {
  auto it = m_entries.find(name);
  if (it == m_entries.end()) throw UnknownKeyError(unknown_key_message(name));
  if (it->second.info.type != type)
    throw std::logic_error("configuration key '" + name + "' is " +
                           to_string(it->second.info.type) + ", read as " + to_string(type));
  return it->second;
}

bool Config::get_bool(const std::string& name) const { return get_entry(name, ParamType::Bool).b; }
int64_t Config::get_int(const std::string& name) const { return get_entry(name, ParamType::Int).i; }
uint64_t Config::get_uint(const std::string& name) const {
  return get_entry(name, ParamType::UInt).u;
}
double Config::get_double(const std::string& name) const {
  return get_entry(name, ParamType::Double).d;
}
std::string Config::get_string(const std::string& name) const {
  return get_entry(name, ParamType::String).s;
}
bool Config::is_declared(const std::string& name) const { return m_entries.count(name) != 0; }

void Config::check_all_overrides_used() const {
  std::vector<std::string> problems;
  for (const auto* overrides : {&m_overrides, &m_profile_overrides}) {
    for (const auto& [key, o] : *overrides) {
      if (m_entries.count(key)) continue;
      std::string msg = unknown_key_message(key);
      const size_t semi = msg.find(';');
      msg.insert(semi == std::string::npos ? msg.size() : semi, " (set by " + o.where + ")");
      problems.push_back(msg);
    }
  }
  if (!problems.empty()) throw UnknownKeyError(join(problems, "\n"));
}

// ---------------------------------------------------------------------------------------------
// Listings

std::vector<ParamInfo> Config::list() const {
  std::vector<ParamInfo> out;
  out.reserve(m_entries.size());
  for (const auto& [key, e] : m_entries) out.push_back(e.info);
  return out;
}

std::string Config::to_text() const {
  std::vector<std::pair<std::string, std::string>> lines;  // "name = value", comment
  size_t width = 0;
  for (const auto& [key, e] : m_entries) {
    const std::string value =
        e.info.type == ParamType::String ? quote_if_needed(e.s) : e.info.value_text;
    std::string lhs = key + " = " + value;
    std::string comment = one_line(e.info.unit);
    if (!e.info.description.empty()) {
      if (!comment.empty()) comment += ", ";
      comment += one_line(e.info.description);
    }
    width = std::max(width, lhs.size());
    lines.emplace_back(std::move(lhs), std::move(comment));
  }
  std::string out;
  for (auto& [lhs, comment] : lines) {
    out += lhs;
    if (!comment.empty()) {
      out.append(width - lhs.size() + 2, ' ');
      out += "# " + comment;
    }
    out += '\n';
  }
  return out;
}

std::string Config::to_json() const {
  if (m_entries.empty()) return "{}";
  auto typed = [](const Entry& e, bool is_default) -> std::string {
    switch (e.info.type) {
      case ParamType::Bool:
      case ParamType::Int:
      case ParamType::UInt:  // canonical decimal text is exact and valid JSON
        return is_default ? e.info.default_text : e.info.value_text;
      case ParamType::Double:
        return is_default ? e.info.default_text : format_double(e.d);
      case ParamType::String:
        return "\"" + json_escape(is_default ? e.info.default_text : e.s) + "\"";
    }
    return "null";
  };
  std::string out = "{\n";
  size_t k = 0;
  for (const auto& [key, e] : m_entries) {
    out += "  \"" + json_escape(key) + "\": {\"type\": \"" + to_string(e.info.type) +
           "\", \"unit\": \"" + json_escape(e.info.unit) + "\", \"default\": " + typed(e, true) +
           ", \"value\": " + typed(e, false) + ", \"description\": \"" +
           json_escape(e.info.description) + "\", \"source\": \"" + json_escape(e.info.source) +
           "\"}";
    out += ++k < m_entries.size() ? ",\n" : "\n";
  }
  out += "}";
  return out;
}

}  // namespace vmxsim
