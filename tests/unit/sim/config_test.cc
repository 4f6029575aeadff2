// Unit tests for the configuration property tree (sim/config.h).
#include "sim/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "mini_json.h"
#include "test_util.h"

namespace vmxsim {
namespace {

std::string write_temp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "vmxsim_config_test_" + name;
  std::ofstream f(path, std::ios::binary);
  f << content;
  return path;
}

const char* kEntries = "system.cpu0.dtlb.entries";

uint64_t declare_entries(Config& c) {
  return c.declare_uint(kEntries, 64, "entries", "DTLB entries", 1, 65536);
}

// ---------------------------------------------------------------------------------------------
// Declaration and layering

TEST(Config, DeclareReturnsDefaultsAndRecordsInfo) {
  Config c;
  EXPECT_EQ(declare_entries(c), 64u);
  EXPECT_TRUE(c.declare_bool("system.trace", true, "trace"));
  EXPECT_EQ(c.declare_int("system.offset", -3, "cycles", "offset", -10, 10), -3);
  EXPECT_DOUBLE_EQ(c.declare_double("system.freq", 2.5, "GHz", "clock"), 2.5);
  EXPECT_EQ(c.declare_string("system.mode", "fast", "mode", {"fast", "slow"}), "fast");
  EXPECT_TRUE(c.is_declared(kEntries));
  EXPECT_FALSE(c.is_declared("system.nothing"));

  const auto infos = c.list();
  ASSERT_EQ(infos.size(), 5u);
  for (size_t i = 1; i < infos.size(); ++i) EXPECT_LT(infos[i - 1].name, infos[i].name);
  const ParamInfo& e = infos[0];
  EXPECT_EQ(e.name, kEntries);
  EXPECT_EQ(e.type, ParamType::UInt);
  EXPECT_EQ(e.unit, "entries");
  EXPECT_EQ(e.description, "DTLB entries");
  EXPECT_EQ(e.default_text, "64");
  EXPECT_EQ(e.value_text, "64");
  EXPECT_EQ(e.source, "default");
  EXPECT_EQ(e.min_uint, 1u);
  EXPECT_EQ(e.max_uint, 65536u);
  EXPECT_EQ(infos[2].name, "system.mode");
  EXPECT_EQ(infos[2].choices, (std::vector<std::string>{"fast", "slow"}));
}

TEST(Config, ParamTypeNames) {
  EXPECT_STREQ(to_string(ParamType::Bool), "bool");
  EXPECT_STREQ(to_string(ParamType::Int), "int");
  EXPECT_STREQ(to_string(ParamType::UInt), "uint");
  EXPECT_STREQ(to_string(ParamType::Double), "double");
  EXPECT_STREQ(to_string(ParamType::String), "string");
}

TEST(Config, SetBeforeDeclareIsAppliedAtDeclaration) {
  Config c;
  c.set(kEntries, "4K", "cli");
  EXPECT_FALSE(c.is_declared(kEntries));
  EXPECT_EQ(declare_entries(c), 4096u);
  EXPECT_EQ(c.get_uint(kEntries), 4096u);
  EXPECT_EQ(c.list()[0].value_text, "4096");
  EXPECT_EQ(c.list()[0].default_text, "64");
  EXPECT_EQ(c.list()[0].source, "cli");
}

TEST(Config, SetBeforeDeclareIsValidatedAtDeclaration) {
  Config c;
  c.set(kEntries, "12x", "cli");  // accepted as text: nobody knows the type yet
  const std::string msg = THROW_MSG(declare_entries(c), ConfigError);
  EXPECT_CONTAINS(msg, "bad value '12x' for system.cpu0.dtlb.entries");
  EXPECT_CONTAINS(msg, "(set by cli)");
  // A failed declaration leaves the key undeclared; fixing the override makes it work.
  EXPECT_FALSE(c.is_declared(kEntries));
  c.set(kEntries, "128");
  EXPECT_EQ(declare_entries(c), 128u);
}

TEST(Config, SetAfterDeclareIsValidatedImmediately) {
  Config c;
  declare_entries(c);
  c.set(kEntries, "256", "python");
  EXPECT_EQ(c.get_uint(kEntries), 256u);
  EXPECT_EQ(c.list()[0].source, "python");
  EXPECT_THROW(c.set(kEntries, "0"), ConfigError);  // below min
  // The failed set changed nothing.
  EXPECT_EQ(c.get_uint(kEntries), 256u);
  EXPECT_EQ(c.list()[0].source, "python");
  EXPECT_EQ(c.list()[0].value_text, "256");
  EXPECT_NO_THROW(c.check_all_overrides_used());
}

TEST(Config, LayeringPriorityIsIndependentOfOrder) {
  // default < profile < set, whichever arrives first, and whether before or after declaration.
  // 0 = profile, 1 = set, 2 = declare
  const std::vector<std::vector<int>> orders = {{0, 1, 2}, {1, 0, 2}, {2, 0, 1},
                                                {2, 1, 0}, {0, 2, 1}, {1, 2, 0}};
  for (const auto& order : orders) {
    Config c;
    for (int step : order) {
      if (step == 0) c.set_profile_value(kEntries, "32", "tiny");
      if (step == 1) c.set(kEntries, "512", "cli");
      if (step == 2) declare_entries(c);
    }
    SCOPED_TRACE(::testing::PrintToString(order));
    EXPECT_EQ(c.get_uint(kEntries), 512u);
    EXPECT_EQ(c.list()[0].source, "cli");
    EXPECT_NO_THROW(c.check_all_overrides_used());
  }
  // Profile alone beats the default, before or after declaration.
  for (bool declare_first : {false, true}) {
    Config c;
    if (declare_first) declare_entries(c);
    c.set_profile_value(kEntries, "32", "tiny");
    if (!declare_first) declare_entries(c);
    EXPECT_EQ(c.get_uint(kEntries), 32u);
    EXPECT_EQ(c.list()[0].source, "profile:tiny");
  }
}

TEST(Config, ProfileValuesAreValidatedEvenWhenOverridden) {
  Config c;
  declare_entries(c);
  c.set(kEntries, "512");
  EXPECT_THROW(c.set_profile_value(kEntries, "lots", "bad"), ConfigError);
  EXPECT_THROW(c.set_profile_value("Bad.Key", "1", "bad"), ConfigError);
  EXPECT_EQ(c.get_uint(kEntries), 512u);

  Config d;
  d.set_profile_value(kEntries, "lots", "bad");
  d.set(kEntries, "512");
  const std::string msg = THROW_MSG(declare_entries(d), ConfigError);
  EXPECT_CONTAINS(msg, "bad value 'lots'");
  EXPECT_CONTAINS(msg, "profile:bad");
}

TEST(Config, DuplicateDeclaration) {
  Config c;
  c.set(kEntries, "100");
  EXPECT_EQ(declare_entries(c), 100u);
  // Same type: same value, even with a different default (the first declaration stays).
  EXPECT_EQ(c.declare_uint(kEntries, 8, "entries", "DTLB entries", 1, 65536), 100u);
  EXPECT_EQ(c.list().size(), 1u);
  EXPECT_THROW(c.declare_int(kEntries, 1, "entries", "x", 0, 10), std::logic_error);
  EXPECT_THROW(c.declare_bool(kEntries, false, "x"), std::logic_error);
  EXPECT_THROW(c.declare_string(kEntries, "a", "x"), std::logic_error);
  EXPECT_THROW(c.declare_double(kEntries, 1.0, "", "x"), std::logic_error);
  EXPECT_EQ(c.get_uint(kEntries), 100u);

  EXPECT_TRUE(c.declare_bool("a.flag", true, "f"));
  c.set("a.flag", "off");
  EXPECT_FALSE(c.declare_bool("a.flag", true, "f"));
}

TEST(Config, BadDeclarationsAreLogicErrors) {
  Config c;
  EXPECT_THROW(c.declare_uint("a.b", 0, "", "below min", 1, 10), std::logic_error);
  EXPECT_THROW(c.declare_uint("a.b", 5, "", "min > max", 10, 1), std::logic_error);
  EXPECT_THROW(c.declare_int("a.b", 11, "", "above max", -10, 10), std::logic_error);
  EXPECT_THROW(c.declare_double("a.b", std::nan(""), "", "nan"), std::logic_error);
  EXPECT_THROW(c.declare_double("a.b", HUGE_VAL, "", "inf"), std::logic_error);
  EXPECT_THROW(c.declare_string("a.b", "x", "", {"y", "z"}), std::logic_error);
  EXPECT_THROW(c.declare_bool("A.b", false, "uppercase"), std::logic_error);
  EXPECT_THROW(c.declare_bool("a..b", false, "empty segment"), std::logic_error);
  EXPECT_FALSE(c.is_declared("a.b"));
  EXPECT_TRUE(c.list().empty());
}

TEST(Config, GetErrors) {
  Config c;
  declare_entries(c);
  EXPECT_THROW(c.get_bool(kEntries), std::logic_error);
  EXPECT_THROW(c.get_int(kEntries), std::logic_error);
  EXPECT_THROW(c.get_string(kEntries), std::logic_error);
  EXPECT_THROW(c.get_double(kEntries), std::logic_error);
  const std::string msg = THROW_MSG(c.get_uint("system.cpu0.dtlb.entrys"), UnknownKeyError);
  EXPECT_CONTAINS(msg, "unknown configuration key 'system.cpu0.dtlb.entrys'");
  EXPECT_CONTAINS(msg, "did you mean 'system.cpu0.dtlb.entries'?");
  // UnknownKeyError is a ConfigError.
  EXPECT_THROW(c.get_uint("nothing"), ConfigError);
}

// ---------------------------------------------------------------------------------------------
// Key names and value syntax

TEST(Config, InvalidKeyNamesInSet) {
  Config c;
  for (const char* key : {"", ".", "a.", ".a", "a..b", "A.b", "a-b", "a b", "a.b ", "a/b", "é"}) {
    SCOPED_TRACE(key);
    const std::string msg = THROW_MSG(c.set(key, "1"), ConfigError);
    EXPECT_CONTAINS(msg, "invalid configuration key '" + std::string(key) + "'");
  }
  EXPECT_NO_THROW(c.set("a", "1"));
  EXPECT_NO_THROW(c.set("system.cpu0.l1_d.size2", "1"));
}

TEST(Config, UnsignedIntegerForms) {
  Config c;
  c.declare_uint("x", 0, "bytes", "any");
  const std::vector<std::pair<std::string, uint64_t>> good = {
      {"0", 0},
      {"42", 42},
      {"1_000_000", 1000000},
      {"0x10", 16},
      {"0X1f", 31},
      {"0xdead_beef", 0xdeadbeef},
      {"4K", 4096},
      {"4KiB", 4096},
      {"2M", 2u << 20},
      {"2MiB", 2u << 20},
      {"3G", 3ull << 30},
      {"1GiB", 1ull << 30},
      {"5T", 5ull << 40},
      {"1TiB", 1ull << 40},
      {"0x1K", 1024},
      {"16777215T", 16777215ull << 40},
      {"18446744073709551615", UINT64_MAX},
      {"0xffffffffffffffff", UINT64_MAX},
      {"00012", 12},
      {"1e3", 1000},
      {"2E10", 20000000000ull},
      {"1_0e2", 1000},
      {"0x1e3", 0x1e3},  // hex digits, not an exponent
      {"18e18", 18000000000000000000ull},
  };
  for (const auto& [text, value] : good) {
    SCOPED_TRACE(text);
    EXPECT_NO_THROW(c.set("x", text));
    EXPECT_EQ(c.get_uint("x"), value);
    EXPECT_EQ(c.list()[0].value_text, std::to_string(value));
  }
  const std::vector<std::string> bad = {"",
                                        "12x",
                                        "0x",
                                        "-1",
                                        "+1",
                                        " 1",
                                        "1 ",
                                        "1.5",
                                        "1e",
                                        "1e-3",
                                        "2e19",
                                        "1e20",
                                        "_1",
                                        "1_",
                                        "1__0",
                                        "0x_1",
                                        "x10",
                                        "1k",
                                        "1KB",
                                        "1Ki",
                                        "1 K",
                                        "K",
                                        "0xg",
                                        "18446744073709551616",
                                        "99999999999999999999999",
                                        "0x10000000000000000",
                                        "16777216T",
                                        "17179869184G",
                                        "1T1"};
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    const std::string msg = THROW_MSG(c.set("x", text), ConfigError);
    EXPECT_EQ(msg, "bad value '" + text + "' for x: expected an unsigned integer (bytes) in [0, " +
                       "18446744073709551615]");
  }
  EXPECT_THROW(c.set("x", std::string("1\0", 2)), ConfigError);  // embedded NUL
  EXPECT_EQ(c.get_uint("x"), 18000000000000000000ull);  // unchanged since the last good value
}

TEST(Config, UnsignedBoundsAndExactMessage) {
  Config c;
  declare_entries(c);
  const std::string msg = THROW_MSG(c.set(kEntries, "12x"), ConfigError);
  EXPECT_EQ(msg,
            "bad value '12x' for system.cpu0.dtlb.entries: expected an unsigned integer (entries) "
            "in [1, 65536]");
  EXPECT_THROW(c.set(kEntries, "0"), ConfigError);
  EXPECT_THROW(c.set(kEntries, "65537"), ConfigError);
  EXPECT_THROW(c.set(kEntries, "64K1"), ConfigError);
  EXPECT_NO_THROW(c.set(kEntries, "64K"));
  EXPECT_EQ(c.get_uint(kEntries), 65536u);
  EXPECT_NO_THROW(c.set(kEntries, "1"));
  EXPECT_THROW(c.set(kEntries, "65K"), ConfigError);
}

TEST(Config, SignedIntegerForms) {
  Config c;
  c.declare_int("x", 0, "", "full range", INT64_MIN, INT64_MAX);
  c.declare_int("y", 0, "cycles", "bounded", -100, 100);
  const std::vector<std::pair<std::string, int64_t>> good = {
      {"0", 0},
      {"-0", 0},
      {"-5", -5},
      {"1_000", 1000},
      {"-0x10", -16},
      {"-2K", -2048},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
      {"0x7fffffffffffffff", INT64_MAX},
      {"-0x8000000000000000", INT64_MIN},
      {"8388607T", 8388607ll << 40},
      {"-8388608T", INT64_MIN},
  };
  for (const auto& [text, value] : good) {
    SCOPED_TRACE(text);
    EXPECT_NO_THROW(c.set("x", text));
    EXPECT_EQ(c.get_int("x"), value);
  }
  for (const std::string text :
       {"", "-", "--1", "+1", "1.5", "-1.5", "12x", "0x", "9223372036854775808",
        "-9223372036854775809", "0x8000000000000000", "8388608T", "-8388609T",
        "99999999999999999999", "- 1"}) {
    SCOPED_TRACE(text);
    const std::string msg = THROW_MSG(c.set("x", text), ConfigError);
    EXPECT_EQ(msg, "bad value '" + text +
                       "' for x: expected an integer in [-9223372036854775808, "
                       "9223372036854775807]");
  }
  EXPECT_NO_THROW(c.set("y", "-100"));
  EXPECT_EQ(c.get_int("y"), -100);
  const std::string msg = THROW_MSG(c.set("y", "-101"), ConfigError);
  EXPECT_EQ(msg, "bad value '-101' for y: expected an integer (cycles) in [-100, 100]");
  EXPECT_THROW(c.set("y", "101"), ConfigError);
  EXPECT_EQ(c.get_int("y"), -100);
}

TEST(Config, BoolForms) {
  Config c;
  c.declare_bool("b", false, "flag");
  for (const char* t : {"true", "on", "1", "yes", "True", "YES", "On"}) {
    SCOPED_TRACE(t);
    c.set("b", "false");
    c.set("b", t);
    EXPECT_TRUE(c.get_bool("b"));
    EXPECT_EQ(c.list()[0].value_text, "true");
  }
  for (const char* t : {"false", "off", "0", "no", "False", "NO"}) {
    SCOPED_TRACE(t);
    c.set("b", "true");
    c.set("b", t);
    EXPECT_FALSE(c.get_bool("b"));
    EXPECT_EQ(c.list()[0].value_text, "false");
  }
  for (const char* t : {"", "2", "maybe", "tru", " true", "y", "00"}) {
    SCOPED_TRACE(t);
    const std::string msg = THROW_MSG(c.set("b", t), ConfigError);
    EXPECT_EQ(msg, "bad value '" + std::string(t) +
                       "' for b: expected a boolean (true/false/on/off/1/0/yes/no)");
  }
}

TEST(Config, DoubleForms) {
  Config c;
  c.declare_double("d", 1.0, "ns", "latency");
  const std::vector<std::pair<std::string, double>> good = {
      {"1.5", 1.5},    {"-2", -2.0},
      {"1e3", 1000.0}, {".5", 0.5},
      {"0.1", 0.1},    {"1e-300", 1e-300},
      {"0x1p4", 16.0}, {"1.7976931348623157e308", 1.7976931348623157e308}};
  for (const auto& [text, value] : good) {
    SCOPED_TRACE(text);
    EXPECT_NO_THROW(c.set("d", text));
    EXPECT_EQ(c.get_double("d"), value);
  }
  for (const std::string text : {"", "1.5x", "x", " 1", "1 ", "inf", "-inf", "nan", "NaN", "1e999",
                                 "-1e999", "1,5", "1..2"}) {
    SCOPED_TRACE(text);
    const std::string msg = THROW_MSG(c.set("d", text), ConfigError);
    EXPECT_EQ(msg, "bad value '" + text + "' for d: expected a finite number (ns)");
  }
  EXPECT_EQ(c.get_double("d"), 1.7976931348623157e308);
  c.set("d", "0.1");
  EXPECT_EQ(c.list()[0].value_text, "0.1");
  c.set("d", "3");
  EXPECT_EQ(c.list()[0].value_text, "3.0");
}

TEST(Config, StringChoices) {
  Config c;
  c.declare_string("mode", "fast", "speed", {"fast", "slow", "exact"});
  c.declare_string("name", "", "free text");
  c.set("mode", "slow");
  EXPECT_EQ(c.get_string("mode"), "slow");
  const std::string msg = THROW_MSG(c.set("mode", "Fast"), ConfigError);
  EXPECT_EQ(msg, "bad value 'Fast' for mode: expected one of: fast, slow, exact");
  EXPECT_THROW(c.set("mode", ""), ConfigError);
  EXPECT_EQ(c.get_string("mode"), "slow");
  c.set("name", "anything at all # even this");
  EXPECT_EQ(c.get_string("name"), "anything at all # even this");
  c.set("name", "");
  EXPECT_EQ(c.get_string("name"), "");
}

TEST(Config, SetAssignment) {
  Config c;
  declare_entries(c);
  c.declare_string("s", "", "free");
  c.set_assignment("system.cpu0.dtlb.entries=128");
  EXPECT_EQ(c.get_uint(kEntries), 128u);
  c.set_assignment("  system.cpu0.dtlb.entries = 0x100 ", "python");
  EXPECT_EQ(c.get_uint(kEntries), 256u);
  EXPECT_EQ(c.list()[1].source, "python");
  c.set_assignment("s=a=b");
  EXPECT_EQ(c.get_string("s"), "a=b");
  EXPECT_CONTAINS(THROW_MSG(c.set_assignment("system.cpu0.dtlb.entries"), ConfigError),
                  "expected key=value");
  EXPECT_THROW(c.set_assignment("=5"), ConfigError);
  EXPECT_THROW(c.set_assignment("system.cpu0.dtlb.entries=lots"), ConfigError);
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

TEST(Config, CheckAllOverridesUsedSuggestsClosestKey) {
  Config c;
  c.set("system.cpu0.dtlb.entires", "128");  // transposition: distance 2
  declare_entries(c);
  c.declare_uint("system.cpu0.itlb.entries", 64, "entries", "ITLB entries", 1, 65536);
  const std::string msg = THROW_MSG(c.check_all_overrides_used(), UnknownKeyError);
  EXPECT_EQ(msg,
            "unknown configuration key 'system.cpu0.dtlb.entires' (set by cli); did you mean "
            "'system.cpu0.dtlb.entries'?");
}

TEST(Config, CheckAllOverridesUsedWithoutSuggestion) {
  Config c;
  declare_entries(c);
  c.set("system.gpu", "1", "python");
  c.set_profile_value("cpu.l9.size", "1", "weird");
  const std::string msg = THROW_MSG(c.check_all_overrides_used(), UnknownKeyError);
  EXPECT_EQ(msg,
            "unknown configuration key 'system.gpu' (set by python)\n"
            "unknown configuration key 'cpu.l9.size' (set by profile:weird)");
}

TEST(Config, SuggestionThreshold) {
  Config c;
  c.declare_bool("abcdef", false, "");
  c.declare_bool("abcxyz", false, "");
  c.set("abcdxx", "1");  // distance 2 to abcdef, 6 chars: 2 <= 6/3 -> suggested
  c.set("aaaaaa", "1");  // distance >= 5 from both
  c.set("abcxy", "1");   // distance 1 to abcxyz
  const std::string msg = THROW_MSG(c.check_all_overrides_used(), UnknownKeyError);
  EXPECT_CONTAINS(msg, "'abcdxx' (set by cli); did you mean 'abcdef'?");
  EXPECT_CONTAINS(msg, "'aaaaaa' (set by cli)\n");
  EXPECT_CONTAINS(msg, "'abcxy' (set by cli); did you mean 'abcxyz'?");

  Config d;
  d.declare_bool("ab", false, "");
  d.set("xy", "1");  // distance 2 > 2/3
  EXPECT_EQ(THROW_MSG(d.check_all_overrides_used(), UnknownKeyError),
            "unknown configuration key 'xy' (set by cli)");
}

TEST(Config, CheckAllOverridesUsedPassesWhenAllDeclared) {
  Config c;
  EXPECT_NO_THROW(c.check_all_overrides_used());
  c.set(kEntries, "2");
  c.set_profile_value(kEntries, "4", "p");
  EXPECT_THROW(c.check_all_overrides_used(), UnknownKeyError);
  declare_entries(c);
  EXPECT_NO_THROW(c.check_all_overrides_used());
}

// ---------------------------------------------------------------------------------------------
// Files

TEST(Config, LoadFile) {
  Config c;
  declare_entries(c);  // declared before loading: applied immediately
  const std::string path =
      write_temp("good.cfg",
                 "# a comment line\n"
                 "\n"
                 "   \t\n"
                 "system.cpu0.dtlb.entries = 1K   # trailing comment\n"
                 "system.mode=slow\r\n"
                 "  # indented comment = with equals\n"
                 "system.label = \"has # hash\"  # comment\n"
                 "system.empty = \"\"\n"
                 "system.eq = a=b\n"
                 "system.esc = \"tab\\there \\\"q\\\" \\u00e9\\ud83d\\ude00\"\n"
                 "system.raw = C:\\dir\\ \"x\"\n"
                 "system.later = 7");  // no final newline
  c.load_file(path);
  EXPECT_EQ(c.get_uint(kEntries), 1024u);
  EXPECT_EQ(c.list()[0].source, "file:" + path);
  EXPECT_EQ(c.declare_string("system.mode", "fast", "m", {"fast", "slow"}), "slow");
  EXPECT_EQ(c.declare_string("system.label", "", "l"), "has # hash");
  EXPECT_EQ(c.declare_string("system.empty", "x", "e"), "");
  EXPECT_EQ(c.declare_string("system.eq", "", "e"), "a=b");
  EXPECT_EQ(c.declare_string("system.esc", "", "e"), "tab\there \"q\" \xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(c.declare_string("system.raw", "", "r"), "C:\\dir\\ \"x\"");  // unquoted: verbatim
  EXPECT_EQ(c.declare_int("system.later", 0, "", "l", 0, 10), 7);
  EXPECT_NO_THROW(c.check_all_overrides_used());
  std::remove(path.c_str());
}

TEST(Config, LoadFileErrorsNameTheLine) {
  {
    Config c;
    const std::string path = write_temp("syntax.cfg", "# ok\na.b = 1\n\nthis line is wrong\n");
    const std::string msg = THROW_MSG(c.load_file(path), ConfigError);
    EXPECT_EQ(msg, path + ":4: expected 'key = value', got 'this line is wrong'");
    std::remove(path.c_str());
  }
  {
    Config c;
    declare_entries(c);
    const std::string path = write_temp("value.cfg", "a.b = 1\nsystem.cpu0.dtlb.entries = 12x\n");
    const std::string msg = THROW_MSG(c.load_file(path), ConfigError);
    EXPECT_EQ(msg, path +
                       ":2: bad value '12x' for system.cpu0.dtlb.entries: expected an unsigned "
                       "integer (entries) in [1, 65536]");
    std::remove(path.c_str());
  }
  {
    Config c;
    const std::string path = write_temp("key.cfg", "\n\nSystem.X = 1\n");
    EXPECT_CONTAINS(THROW_MSG(c.load_file(path), ConfigError),
                    path + ":3: invalid configuration key 'System.X'");
    std::remove(path.c_str());
  }
  {
    Config c;
    const std::string path = write_temp("quote.cfg", "a.b = \"open\n");
    EXPECT_EQ(THROW_MSG(c.load_file(path), ConfigError), path + ":1: unterminated quoted value");
    std::remove(path.c_str());
  }
  {
    Config c;
    const std::string path = write_temp("escape.cfg", "a.b = \"ok\"\na.c = \"bad \\q\"\n");
    EXPECT_EQ(THROW_MSG(c.load_file(path), ConfigError),
              path + ":2: bad escape '\\q' in quoted value");
    std::remove(path.c_str());
  }
  {
    Config c;
    const std::string path = write_temp("after.cfg", "a.b = \"ok\" trailing\n");
    EXPECT_EQ(THROW_MSG(c.load_file(path), ConfigError),
              path + ":1: unexpected text after quoted value: 'trailing'");
    std::remove(path.c_str());
  }
  {
    Config c;
    const std::string path = write_temp("deferred.cfg", "# x\nsystem.cpu0.dtlb.entries = 0\n");
    c.load_file(path);  // not declared yet: kept as text
    const std::string msg = THROW_MSG(declare_entries(c), ConfigError);
    EXPECT_CONTAINS(msg, "bad value '0' for system.cpu0.dtlb.entries");
    EXPECT_CONTAINS(msg, "(set by " + path + ":2)");
    std::remove(path.c_str());
  }
  {
    Config c;
    declare_entries(c);
    const std::string path = write_temp("unknown.cfg", "\nsystem.cpu0.dtlb.entrie = 4\n");
    c.load_file(path);
    EXPECT_EQ(THROW_MSG(c.check_all_overrides_used(), UnknownKeyError),
              "unknown configuration key 'system.cpu0.dtlb.entrie' (set by " + path +
                  ":2); did you mean 'system.cpu0.dtlb.entries'?");
    std::remove(path.c_str());
  }
}

TEST(Config, LoadMissingFile) {
  Config c;
  const std::string path = ::testing::TempDir() + "vmxsim_no_such_file.cfg";
  EXPECT_EQ(THROW_MSG(c.load_file(path), ConfigError),
            "cannot open config file '" + path + "': No such file or directory");
  EXPECT_THROW(c.load_file(::testing::TempDir()), ConfigError);  // a directory cannot be read
}

// ---------------------------------------------------------------------------------------------
// Listings

void declare_sample(Config& c) {
  declare_entries(c);
  c.declare_bool("system.trace", false, "trace \"everything\"");
  c.declare_int("system.offset", -3, "cycles", "offset", INT64_MIN, INT64_MAX);
  c.declare_uint("system.big", UINT64_MAX, "bytes", "largest");
  c.declare_double("system.freq", 0.1, "GHz", "clock");
  c.declare_double("system.whole", 2.0, "", "");
  c.declare_string("system.mode", "fast", "mode", {"fast", "slow"});
  c.declare_string("system.note", "a\\b\n\t\x01\"q\" # x", "tab\there");
}

TEST(Config, ToText) {
  Config c;
  declare_sample(c);
  c.set("system.offset", "-9223372036854775808");
  const std::string text = c.to_text();
  EXPECT_CONTAINS(text, "system.cpu0.dtlb.entries = 64");
  EXPECT_CONTAINS(text, "# entries, DTLB entries\n");
  EXPECT_CONTAINS(text, "system.offset = -9223372036854775808");
  EXPECT_CONTAINS(text, "system.freq = 0.1");
  EXPECT_CONTAINS(text, "system.whole = 2.0\n");  // no comment when unit and desc are empty
  // A string that would not load back verbatim is quoted and escaped; comments stay on one line.
  EXPECT_CONTAINS(text, "system.note = \"a\\\\b\\n\\t\\u0001\\\"q\\\" # x\"  # tab here\n");
  // One line per key, comments aligned.
  size_t lines = 0, hash_col = std::string::npos;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lines;
    if (line.rfind("system.whole", 0) == 0) continue;
    const size_t col = line.find("  # ");
    ASSERT_NE(col, std::string::npos) << line;
    if (hash_col == std::string::npos) hash_col = col;
    EXPECT_EQ(col, hash_col) << line;
  }
  EXPECT_EQ(lines, 8u);
}

TEST(Config, ToTextLoadsBack) {
  Config a;
  declare_entries(a);
  a.declare_string("s.hash", "", "");
  a.declare_string("s.empty", "x", "");
  a.declare_string("s.space", "", "");
  a.declare_string("s.ctl", "", "");
  a.declare_string("s.quote", "", "");
  a.declare_string("s.plain", "", "");
  a.declare_double("d", 0, "", "");
  a.declare_uint("u", 0, "", "");
  a.set(kEntries, "77");
  a.set("s.hash", "a # b");
  a.set("s.empty", "");
  a.set("s.space", " padded ");
  a.set("s.ctl", "line1\nline2\t\x01 \\ \"q\" caf\xc3\xa9");
  a.set("s.quote", "\"starts with a quote");
  a.set("s.plain", "back\\slash \"inside\" quotes");
  a.set("d", "0.30000000000000004");
  a.set("u", "18446744073709551615");
  const std::string path = write_temp("roundtrip.cfg", a.to_text());
  Config b;
  b.load_file(path);
  EXPECT_EQ(declare_entries(b), 77u);
  EXPECT_EQ(b.declare_string("s.hash", "", ""), "a # b");
  EXPECT_EQ(b.declare_string("s.empty", "x", ""), "");
  EXPECT_EQ(b.declare_string("s.space", "", ""), " padded ");
  EXPECT_EQ(b.declare_string("s.ctl", "", ""), "line1\nline2\t\x01 \\ \"q\" caf\xc3\xa9");
  EXPECT_EQ(b.declare_string("s.quote", "", ""), "\"starts with a quote");
  EXPECT_EQ(b.declare_string("s.plain", "", ""), "back\\slash \"inside\" quotes");
  EXPECT_EQ(b.declare_double("d", 0, "", ""), 0.30000000000000004);
  EXPECT_EQ(b.declare_uint("u", 0, "", ""), UINT64_MAX);
  EXPECT_NO_THROW(b.check_all_overrides_used());
  std::remove(path.c_str());
}

TEST(Config, ToJson) {
  Config c;
  EXPECT_EQ(c.to_json(), "{}");
  declare_sample(c);
  c.set("system.offset", "-9223372036854775808", "python");
  c.set("system.freq", "0.30000000000000004");
  c.set("system.trace", "on");
  const std::string json = c.to_json();
  mini_json::Value root;
  ASSERT_NO_THROW(root = mini_json::parse(json)) << json;
  ASSERT_EQ(root.kind, mini_json::Value::Object);
  EXPECT_EQ(root.object.size(), 8u);

  const auto& big = root.at("system.big");
  EXPECT_EQ(big.at("type").text, "uint");
  EXPECT_EQ(big.at("unit").text, "bytes");
  EXPECT_TRUE(big.at("value").is_integer());
  EXPECT_EQ(big.at("value").text, "18446744073709551615");
  EXPECT_EQ(big.at("default").text, "18446744073709551615");
  EXPECT_EQ(big.at("description").text, "largest");
  EXPECT_EQ(big.at("source").text, "default");

  const auto& off = root.at("system.offset");
  EXPECT_EQ(off.at("type").text, "int");
  EXPECT_EQ(off.at("value").text, "-9223372036854775808");
  EXPECT_EQ(off.at("default").text, "-3");
  EXPECT_EQ(off.at("source").text, "python");

  const auto& freq = root.at("system.freq");
  EXPECT_EQ(freq.at("type").text, "double");
  EXPECT_EQ(freq.at("value").number(), 0.30000000000000004);  // exact round trip
  EXPECT_EQ(freq.at("default").number(), 0.1);
  EXPECT_EQ(root.at("system.whole").at("value").text, "2.0");

  const auto& trace = root.at("system.trace");
  EXPECT_EQ(trace.at("type").text, "bool");
  EXPECT_EQ(trace.at("value").kind, mini_json::Value::Bool);
  EXPECT_TRUE(trace.at("value").b);
  EXPECT_FALSE(trace.at("default").b);
  EXPECT_EQ(trace.at("description").text, "trace \"everything\"");

  const auto& note = root.at("system.note");
  EXPECT_EQ(note.at("type").text, "string");
  EXPECT_EQ(note.at("value").kind, mini_json::Value::String);
  EXPECT_EQ(note.at("value").text, "a\\b\n\t\x01\"q\" # x");
  EXPECT_EQ(note.at("description").text, "tab\there");
  EXPECT_EQ(root.at("system.mode").at("value").text, "fast");
  EXPECT_EQ(root.at("system.cpu0.dtlb.entries").at("value").text, "64");
}

}  // namespace
}  // namespace vmxsim
