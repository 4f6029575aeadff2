// A small strict JSON parser for tests: checks that writer output is valid JSON (RFC 8259) and
// gives access to the parsed values. Numbers keep their source text so integer exactness can be
// checked.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mini_json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  std::string text;  // number source text, or decoded string
  std::vector<Value> array;
  std::map<std::string, Value> object;

  const Value& at(const std::string& k) const {
    auto it = object.find(k);
    if (kind != Object || it == object.end()) throw std::out_of_range("no member " + k);
    return it->second;
  }
  bool has(const std::string& k) const { return kind == Object && object.count(k) != 0; }
  bool is_integer() const {
    return kind == Number && text.find_first_of(".eE") == std::string::npos;
  }
  double number() const { return std::strtod(text.c_str(), nullptr); }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : m_s(s) {}
  Value parse() {
    Value v = value();
    ws();
    if (m_i != m_s.size()) fail("trailing text");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("JSON error at offset " + std::to_string(m_i) + ": " + what);
  }
  void ws() {
    while (m_i < m_s.size() &&
           (m_s[m_i] == ' ' || m_s[m_i] == '\n' || m_s[m_i] == '\t' || m_s[m_i] == '\r'))
      ++m_i;
  }
  char peek() { return m_i < m_s.size() ? m_s[m_i] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++m_i;
  }
  bool literal(const char* lit) {
    const std::string l = lit;
    if (m_s.compare(m_i, l.size(), l) != 0) return false;
    m_i += l.size();
    return true;
  }
  Value value() {
    ws();
    Value v;
    const char c = peek();
    if (c == '{') {
      v.kind = Value::Object;
      ++m_i;
      ws();
      if (peek() == '}') {
        ++m_i;
        return v;
      }
      for (;;) {
        ws();
        if (peek() != '"') fail("expected member name");
        std::string k = string();
        ws();
        expect(':');
        Value member = value();
        if (!v.object.emplace(k, std::move(member)).second) fail("duplicate member " + k);
        ws();
        if (peek() == ',') {
          ++m_i;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = Value::Array;
      ++m_i;
      ws();
      if (peek() == ']') {
        ++m_i;
        return v;
      }
      for (;;) {
        v.array.push_back(value());
        ws();
        if (peek() == ',') {
          ++m_i;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind = Value::String;
      v.text = string();
      return v;
    }
    if (literal("true")) {
      v.kind = Value::Bool;
      v.b = true;
      return v;
    }
    if (literal("false")) {
      v.kind = Value::Bool;
      return v;
    }
    if (literal("null")) return v;
    v.kind = Value::Number;
    v.text = number();
    return v;
  }
  std::string number() {
    const size_t start = m_i;
    auto digits = [&] {
      const size_t d = m_i;
      while (peek() >= '0' && peek() <= '9') ++m_i;
      if (m_i == d) fail("expected digit");
    };
    if (peek() == '-') ++m_i;
    if (peek() == '0')
      ++m_i;
    else
      digits();
    if (peek() == '.') {
      ++m_i;
      digits();
    }
    if (peek() == 'e' || peek() == 'E') {
      ++m_i;
      if (peek() == '+' || peek() == '-') ++m_i;
      digits();
    }
    return m_s.substr(start, m_i - start);
  }
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (m_i >= m_s.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(m_s[m_i++]);
      if (c == '"') return out;
      if (c < 0x20) fail("raw control character in string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      const char e = peek();
      ++m_i;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (m_i + 4 > m_s.size()) fail("short \\u escape");
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k) {
            const char h = m_s[m_i++];
            cp <<= 4;
            if (h >= '0' && h <= '9')
              cp |= h - '0';
            else if (h >= 'a' && h <= 'f')
              cp |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
              cp |= h - 'A' + 10;
            else
              fail("bad hex digit");
          }
          utf8(out, cp);  // tests never need surrogate pairs
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  const std::string& m_s;
  size_t m_i = 0;
};

inline Value parse(const std::string& s) { return Parser(s).parse(); }

}  // namespace mini_json
