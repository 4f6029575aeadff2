// Unit tests for the statistics registry and the JSON helpers (sim/stats.h).
#include "sim/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "mini_json.h"
#include "test_util.h"

namespace vmxsim {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_escape(""), "");
  EXPECT_EQ(json_escape("plain text"), "plain text");
  EXPECT_EQ(json_escape("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(json_escape("C:\\dir\\"), "C:\\\\dir\\\\");
  EXPECT_EQ(json_escape("a\nb\tc\rd\be\ff"), "a\\nb\\tc\\rd\\be\\ff");
  EXPECT_EQ(json_escape(std::string("\x01\x1f\x00z", 4)), "\\u0001\\u001f\\u0000z");
  EXPECT_EQ(json_escape("/\x7f"), "/\x7f");  // neither needs escaping
  EXPECT_EQ(json_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");  // valid UTF-8 passes through
}

TEST(JsonEscape, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(json_escape("a\xff"
                        "b"),
            "a\\ufffdb");
  EXPECT_EQ(json_escape("\xc3"), "\\ufffd");                                   // truncated
  EXPECT_EQ(json_escape("\xc0\xaf"), "\\ufffd\\ufffd");                        // overlong
  EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");             // surrogate
  EXPECT_EQ(json_escape("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // > U+10FFFF
}

TEST(JsonEscape, OutputParsesBack) {
  std::string all;
  for (int c = 1; c < 128; ++c) all += static_cast<char>(c);
  const auto v = mini_json::parse("\"" + json_escape(all) + "\"");
  EXPECT_EQ(v.text, all);
}

TEST(FormatDouble, ShortestExactFloatingText) {
  EXPECT_EQ(format_double(1.0), "1.0");
  EXPECT_EQ(format_double(0.0), "0.0");
  EXPECT_EQ(format_double(-2.0), "-2.0");
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(0.5), "0.5");
  EXPECT_EQ(format_double(1e300), "1e+300");
  EXPECT_EQ(format_double(0.30000000000000004), "0.30000000000000004");
  for (double d : {1.0 / 3, 2.0 / 3, 1e-310, 123456789.123456789, -4.9e-324,
                   std::numeric_limits<double>::max(), 9007199254740993.0}) {
    const std::string s = format_double(d);
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), d) << s;
    EXPECT_NO_THROW(mini_json::parse(s)) << s;
  }
}

TEST(StatRegistry, CountersAreReadLiveAndSorted) {
  StatRegistry r;
  uint64_t insts = 0, cycles = 0;
  r.add_counter("system.cpu0.instructions", "instructions", "retired", &insts);
  r.add_counter("system.cpu0.cycles", "cycles", "elapsed", &cycles);
  r.add_counter("system.a", "", "first", &cycles);
  insts = 10;
  cycles = 25;
  const auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap[0].name, "system.a");
  EXPECT_EQ(snap[1].name, "system.cpu0.cycles");
  EXPECT_EQ(snap[2].name, "system.cpu0.instructions");
  EXPECT_TRUE(snap[2].is_integer);
  EXPECT_EQ(snap[2].u, 10u);
  EXPECT_EQ(snap[2].d, 10.0);
  EXPECT_EQ(snap[2].unit, "instructions");
  EXPECT_EQ(snap[2].description, "retired");
  insts = 11;
  EXPECT_EQ(r.value("system.cpu0.instructions"), 11.0);
  EXPECT_EQ(r.snapshot()[2].u, 11u);
}

TEST(StatRegistry, Vectors) {
  StatRegistry r;
  uint64_t exits[4] = {0, 5, 0, 7};
  const char* names[] = {"EXTINT", "CPUID", "HLT", "EPT_VIOLATION"};
  r.add_vector("system.cpu0.exits", "exits", "VM exits by reason", exits, 4,
               [&](size_t i) { return std::string(names[i]); });
  uint64_t vec[3] = {1, 0, 2};
  r.add_vector("system.cpu0.vec", "", "by index", vec, 3, nullptr);

  auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 4u);
  EXPECT_EQ(snap[0].name, "system.cpu0.exits.CPUID");
  EXPECT_EQ(snap[0].u, 5u);
  EXPECT_EQ(snap[0].unit, "exits");
  EXPECT_EQ(snap[0].description, "VM exits by reason");
  EXPECT_EQ(snap[1].name, "system.cpu0.exits.EPT_VIOLATION");
  EXPECT_EQ(snap[1].u, 7u);
  EXPECT_EQ(snap[2].name, "system.cpu0.vec.0");
  EXPECT_EQ(snap[3].name, "system.cpu0.vec.2");

  const std::string text = r.to_text();
  EXPECT_EQ(text.find("HLT"), std::string::npos);
  EXPECT_EQ(text.find("EXTINT"), std::string::npos);
  EXPECT_EQ(r.to_json().find("HLT"), std::string::npos);

  // Zero elements still read by name; the vector's own name reads as the sum.
  EXPECT_EQ(r.value("system.cpu0.exits.HLT"), 0.0);
  EXPECT_EQ(r.value("system.cpu0.exits.CPUID"), 5.0);
  EXPECT_EQ(r.value("system.cpu0.exits"), 12.0);
  EXPECT_EQ(r.value("system.cpu0.vec.1"), 0.0);
  EXPECT_THROW(r.value("system.cpu0.exits.NOPE"), std::out_of_range);
  EXPECT_THROW(r.value("system.cpu0.exits."), std::out_of_range);

  exits[2] = 1;  // read live
  snap = r.snapshot();
  ASSERT_EQ(snap.size(), 5u);
  EXPECT_EQ(snap[2].name, "system.cpu0.exits.HLT");
}

TEST(StatRegistry, FormulasEvaluateLiveCounters) {
  StatRegistry r;
  uint64_t insts = 0, cycles = 0;
  r.add_counter("cpu.instructions", "instructions", "", &insts);
  r.add_counter("cpu.cycles", "cycles", "", &cycles);
  r.add_formula("cpu.cpi", "cycles/instruction", "CPI",
                [&] { return static_cast<double>(cycles) / static_cast<double>(insts); });
  r.add_formula("cpu.inf", "", "", [] { return std::numeric_limits<double>::infinity(); });
  r.add_formula("cpu.ninf", "", "", [] { return -std::numeric_limits<double>::infinity(); });

  // 0/0 is NaN: reported as 0.
  EXPECT_EQ(r.value("cpu.cpi"), 0.0);
  auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 5u);
  EXPECT_EQ(snap[0].name, "cpu.cpi");
  EXPECT_FALSE(snap[0].is_integer);
  EXPECT_EQ(snap[0].d, 0.0);
  EXPECT_EQ(r.value("cpu.inf"), 0.0);
  EXPECT_EQ(r.value("cpu.ninf"), 0.0);
  EXPECT_NO_THROW(mini_json::parse(r.to_json()));

  insts = 4;
  cycles = 10;
  EXPECT_EQ(r.value("cpu.cpi"), 2.5);
  EXPECT_EQ(r.snapshot()[0].d, 2.5);
  cycles = 1;
  insts = 3;
  const auto root = mini_json::parse(r.to_json());
  EXPECT_EQ(root.at("cpu.cpi").at("value").number(), 1.0 / 3);  // exact
}

TEST(StatRegistry, RegistrationErrors) {
  StatRegistry r;
  uint64_t a = 0, v[2] = {0, 0};
  r.add_counter("x.a", "", "", &a);
  EXPECT_THROW(r.add_counter("x.a", "", "", &a), std::logic_error);
  EXPECT_THROW(r.add_formula("x.a", "", "", [] { return 1.0; }), std::logic_error);
  EXPECT_THROW(r.add_vector("x.a", "", "", v, 2, nullptr), std::logic_error);
  EXPECT_THROW(r.add_counter("x.null", "", "", nullptr), std::logic_error);
  EXPECT_THROW(r.add_counter("", "", "", &a), std::logic_error);
  EXPECT_THROW(r.add_formula("x.f", "", "", nullptr), std::logic_error);
  EXPECT_THROW(r.add_vector("x.nv", "", "", nullptr, 2, nullptr), std::logic_error);

  // A vector element may not collide with a counter, in either order.
  EXPECT_THROW(r.add_vector("x", "", "", v, 2, [](size_t i) { return i ? "a" : "b"; }),
               std::logic_error);
  EXPECT_THROW(r.add_vector("y", "", "", v, 2, [](size_t) { return "same"; }), std::logic_error);
  EXPECT_THROW(r.add_vector("z", "", "", v, 2, [](size_t) { return ""; }), std::logic_error);
  // None of the failed registrations claimed a name.
  EXPECT_NO_THROW(r.add_counter("x.b", "", "", &a));
  EXPECT_NO_THROW(r.add_counter("y.same", "", "", &a));
  EXPECT_NO_THROW(r.add_vector("z", "", "", v, 2, nullptr));
  EXPECT_THROW(r.add_counter("z.1", "", "", &a), std::logic_error);
  EXPECT_NO_THROW(r.add_vector("empty", "", "", nullptr, 0, nullptr));
  EXPECT_EQ(r.snapshot().size(), 3u);  // x.a, x.b, y.same (vector z is all zero)
}

TEST(StatRegistry, UnknownValueNamesTheKey) {
  StatRegistry r;
  try {
    r.value("no.such.stat");
    FAIL();
  } catch (const std::out_of_range& e) {
    EXPECT_CONTAINS(std::string(e.what()), "no.such.stat");
  }
}

TEST(StatRegistry, TextIsAligned) {
  StatRegistry r;
  EXPECT_EQ(r.to_text(), "");
  uint64_t big = 123456789, small = 7, none = 0;
  r.add_counter("system.cpu0.instructions", "instructions", "retired instructions", &big);
  r.add_counter("system.x", "cycles", "short", &small);
  r.add_counter("system.zero", "", "", &none);
  r.add_formula("system.ipc", "ratio", "per cycle", [] { return 0.5; });
  r.add_formula("system.tiny", "", "tiny", [] { return 1.5e-9; });
  const auto lines = lines_of(r.to_text());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("system.cpu0.instructions", 0), 0u);
  EXPECT_EQ(lines[1].rfind("system.ipc", 0), 0u);
  EXPECT_EQ(lines[4].rfind("system.zero", 0), 0u);

  // Values are right-aligned to one column, units start at one column.
  const std::vector<std::string> values = {"123456789", "0.5", "1.5e-09", "7", "0"};
  const std::vector<std::string> units = {"instructions", "ratio", "", "cycles", ""};
  size_t value_end = std::string::npos, unit_col = std::string::npos;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    const size_t at = lines[i].find("  " + values[i]) + 2;
    ASSERT_NE(at, std::string::npos + 2);
    const size_t end = at + values[i].size();
    if (value_end == std::string::npos) value_end = end;
    EXPECT_EQ(end, value_end);
    if (!units[i].empty()) {
      const size_t ucol = lines[i].find(units[i], end);
      if (unit_col == std::string::npos) unit_col = ucol;
      EXPECT_EQ(ucol, unit_col);
    }
    EXPECT_NE(lines[i].back(), ' ');  // no trailing blanks
  }
  EXPECT_CONTAINS(lines[0], "  # retired instructions");
  EXPECT_EQ(lines[4].find('#'), std::string::npos);
}

TEST(StatRegistry, JsonIsValidAndExact) {
  StatRegistry r;
  EXPECT_EQ(r.to_json(), "{}");
  uint64_t max = UINT64_MAX, two53p1 = (1ull << 53) + 1;
  uint64_t v[3] = {0, 3, 0};
  r.add_counter("c.max", "count", "the \"largest\"\tvalue\\", &max);
  r.add_counter("c.odd", "", "", &two53p1);
  r.add_vector("c.vec", "things", "ctl\x01", v, 3,
               [](size_t i) { return "e" + std::to_string(i); });
  r.add_formula("c.third", "%", "", [] { return 100.0 / 3; });
  r.add_formula("c.whole", "", "", [] { return 2.0; });
  r.add_formula("c.nan", "", "", [] { return std::nan(""); });
  const std::string json = r.to_json();
  mini_json::Value root;
  ASSERT_NO_THROW(root = mini_json::parse(json)) << json;
  ASSERT_EQ(root.object.size(), 6u);
  EXPECT_EQ(root.at("c.max").at("value").text, "18446744073709551615");
  EXPECT_TRUE(root.at("c.max").at("value").is_integer());
  EXPECT_EQ(root.at("c.max").at("unit").text, "count");
  EXPECT_EQ(root.at("c.max").at("description").text, "the \"largest\"\tvalue\\");
  EXPECT_EQ(root.at("c.odd").at("value").text, "9007199254740993");
  EXPECT_EQ(root.at("c.vec.e1").at("value").text, "3");
  EXPECT_EQ(root.at("c.vec.e1").at("description").text, "ctl\x01");
  EXPECT_FALSE(root.has("c.vec.e0"));
  EXPECT_EQ(root.at("c.third").at("value").number(), 100.0 / 3);
  EXPECT_FALSE(root.at("c.whole").at("value").is_integer());  // formulas read as floats
  EXPECT_EQ(root.at("c.whole").at("value").number(), 2.0);
  EXPECT_EQ(root.at("c.nan").at("value").number(), 0.0);
}

}  // namespace
}  // namespace vmxsim
