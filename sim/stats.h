// Statistics registry (ARCHITECTURE §6). Modules keep their counters as plain uint64_t members
// (an increment costs an integer add) and register a pointer to each here once; formulas are
// evaluated only when the registry is read. The registry never outlives the modules whose
// counters it points to: the platform owns both and destroys the registry first.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace vmxsim {

struct StatValue {
  std::string name;         // "system.cpu0.instructions"
  std::string unit;         // "instructions", "cycles", "%", "MIPS", ...
  std::string description;  // one line
  bool is_integer;          // counters are exact integers; formulas are doubles
  uint64_t u;               // value when is_integer
  double d;                 // value when !is_integer (also filled for counters)
};

class StatRegistry {
 public:
  // Registering the same name twice (including a name a vector element reports under), an empty
  // name or a null pointer is a std::logic_error.
  void add_counter(const std::string& name, const std::string& unit, const std::string& desc,
                   const uint64_t* counter);
  // A vector of counters, one per index (e.g. exceptions by vector). Each non-zero element is
  // reported as "<name>.<label(i)>"; zero elements are omitted from snapshot, text and JSON output.
  // Labels are taken once, at registration; they must be non-empty and distinct. An empty
  // `label` function labels by index.
  void add_vector(const std::string& name, const std::string& unit, const std::string& desc,
                  const uint64_t* counters, size_t count,
                  std::function<std::string(size_t)> label);
  // A derived value; a formula whose result is NaN or infinite (e.g. 0/0) is reported as 0.
  void add_formula(const std::string& name, const std::string& unit, const std::string& desc,
                   std::function<double()> formula);

  std::vector<StatValue> snapshot() const;  // sorted by name
  std::string to_text() const;              // aligned "name  value  unit  # description" lines
  std::string to_json() const;              // {"name": {"value":..,"unit":..,"description":..}}
  // Looks up one value by name (nullptr-safe: throws std::out_of_range naming the key). A vector
  // element reads as its value even when zero; a vector's own name reads as the sum of elements.
  double value(const std::string& name) const;

 private:
  struct Entry {
    std::string name, unit, desc;
    const uint64_t* counter = nullptr;
    const uint64_t* vec = nullptr;
    size_t count = 0;
    std::function<std::string(size_t)> label;
    std::vector<std::string> labels;  // label(i), computed at registration
    std::function<double()> formula;
  };
  void claim_name(const std::string& name);  // logic_error if taken
  std::vector<Entry> m_entries;
  std::set<std::string> m_names;  // every name registered or reported by a vector element
};

// JSON string escaping shared by the config and stats writers: returns the contents of a JSON
// string literal, without the surrounding quotes. Quotes, backslashes and control characters are
// escaped; invalid UTF-8 bytes become \ufffd so the output is always valid JSON.
std::string json_escape(const std::string& s);

// Shortest text that reads back (strtod) as exactly `d` (at most %.17g digits), always with a '.'
// or an exponent so it reads as a floating-point number ("1.0", "0.1", "1e+300"). Finite `d` gives
// a valid JSON number.
std::string format_double(double d);

}  // namespace vmxsim
