// The one property tree: every model parameter has a dotted name, a type, a unit, a default and
// a description (ARCHITECTURE §6). The CLI (--set, --config), CPU profiles and Python all feed it.
//
// Values are layered, lowest priority first: declared default < CPU profile < config file/--set.
// Overrides may arrive before the module that owns the key has declared it (the CLI is parsed
// before the platform is elaborated), so they are kept as text and parsed at declaration;
// check_all_overrides_used() then turns every override that no module declared into an error.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmxsim {

// A bad key or value. what() names the key, the offending text and what was expected.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// An override or lookup for a key nobody declared (Python maps this to KeyError).
struct UnknownKeyError : ConfigError {
  using ConfigError::ConfigError;
};

enum class ParamType { Bool, Int, UInt, Double, String };
const char* to_string(ParamType t);

struct ParamInfo {
  std::string name;         // "system.cpu0.dtlb.entries"
  ParamType type;
  std::string unit;         // "entries", "cycles", "bytes", "ns", "" for none
  std::string description;  // one line
  std::string default_text; // declared default, as text
  std::string value_text;   // current value, as text
  std::string source;       // "default", "profile:<name>", "file:<path>", "cli", "python"
  // Integer bounds (inclusive) for Int/UInt; allowed values for String when not empty.
  int64_t min_int = 0, max_int = 0;
  uint64_t min_uint = 0, max_uint = 0;
  std::vector<std::string> choices;
};

class Config {
 public:
  // Declaration: returns the effective value (override parsed and validated, else default); a bad
  // override is a ConfigError and leaves the key undeclared. Declaring the same key twice with the
  // same type returns the same value (several modules may read one shared key; the first
  // declaration's unit, bounds and description stay); a different type is a logic error
  // (std::logic_error), as are an invalid name, min > max, or a default out of bounds/choices.
  bool declare_bool(const std::string& name, bool def, const std::string& desc);
  int64_t declare_int(const std::string& name, int64_t def, const std::string& unit,
                      const std::string& desc, int64_t min, int64_t max);
  uint64_t declare_uint(const std::string& name, uint64_t def, const std::string& unit,
                        const std::string& desc, uint64_t min = 0, uint64_t max = UINT64_MAX);
  double declare_double(const std::string& name, double def, const std::string& unit,
                        const std::string& desc);
  std::string declare_string(const std::string& name, const std::string& def,
                             const std::string& desc, std::vector<std::string> choices = {});

  // Overrides. `source` is recorded for the listing. A key already declared is parsed and
  // validated immediately (ConfigError on a bad value, nothing changed); otherwise it is validated
  // when declared. Key names are dot-separated, non-empty segments of [a-z0-9_] (anything else is
  // a ConfigError). Integer text accepts decimal, 0x hex and size suffixes K/M/G/T or
  // KiB/MiB/GiB/TiB (binary: 1K = 1024) and the "_" separator between digits; a leading '-' only
  // for signed keys. Bools accept true/false/on/off/1/0/yes/no (any case). Doubles must be finite.
  void set(const std::string& name, const std::string& value, const std::string& source = "cli");
  // "key=value" as given to --set.
  void set_assignment(const std::string& assignment, const std::string& source = "cli");
  // Profile values have lower priority than set(): set() wins regardless of order. The value is
  // validated like set() (immediately if declared) and its source is "profile:<profile_name>".
  void set_profile_value(const std::string& name, const std::string& value,
                         const std::string& profile_name);
  // File of "key = value" lines; '#' starts a comment; blank lines ignored. A value may be written
  // as a double-quoted JSON-style string literal (escapes \" \\ \n \t \uXXXX ...), inside which
  // '#' is literal; values are otherwise taken verbatim, trimmed. to_text() output loads back.
  // Errors name the file and the line number; a missing or unreadable file is a ConfigError.
  void load_file(const std::string& path);

  // Typed reads of declared keys (UnknownKeyError if undeclared, std::logic_error on type mismatch).
  bool get_bool(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  uint64_t get_uint(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  bool is_declared(const std::string& name) const;

  // Throws UnknownKeyError listing every override key (set(), files and profiles) that was never
  // declared, with where it was set and the closest declared key as a suggestion ("did you mean
  // ...?", Levenshtein distance at most a third of the key's length).
  void check_all_overrides_used() const;

  std::vector<ParamInfo> list() const;  // sorted by name
  // One line per key: name = value  # unit, description. String values that would not load back
  // verbatim (empty, '#', control characters, edge blanks) are written quoted and escaped.
  std::string to_text() const;
  // {"name": {"type":..,"unit":..,"default":..,"value":..,"description":..,"source":..}, ...}
  // sorted by name; default/value are JSON numbers (integers exact), booleans or strings.
  std::string to_json() const;

 private:
  struct Override {
    std::string text;
    std::string source;
    std::string where;  // source, or "<path>:<line>" for a file, for error messages
  };
  struct Entry {
    ParamInfo info;
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    std::string s;
  };
  // Existing entry of that type, nullptr if undeclared, std::logic_error on a type mismatch.
  Entry* find_declared(const std::string& name, ParamType type);
  // Fills the common fields of a new entry (validating the name).
  static Entry make_entry(const std::string& name, ParamType type, const std::string& unit,
                          const std::string& desc);
  // Applies pending profile/set overrides to a new entry, then inserts it.
  Entry& install(Entry e);
  // Parses `text` for e's type and commits it; on error throws ConfigError and leaves e unchanged.
  // `where`, if not empty, is appended to the message as "(set by ...)".
  static void apply_text(Entry& e, const std::string& text, const std::string& source,
                         const std::string& where = {});
  void set_override(const std::string& name, const std::string& value, const std::string& source,
                    const std::string& where);
  const Entry& get_entry(const std::string& name, ParamType type) const;
  std::string unknown_key_message(const std::string& name) const;

  std::map<std::string, Entry> m_entries;
  std::map<std::string, Override> m_overrides;          // from set(), highest priority
  std::map<std::string, Override> m_profile_overrides;  // from set_profile_value()
};

}  // namespace vmxsim
