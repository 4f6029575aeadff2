// Named CPU profiles (ARCHITECTURE §3): each is a set of default values for the system.cpu.*
// keys, applied below the user's --set/--config values, so every key can still be overridden.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vmxsim {

class Config;

struct CpuProfile {
  std::string name;
  std::string description;  // one line, including where the numbers come from
  std::vector<std::pair<std::string, std::string>> values;
};

const std::vector<CpuProfile>& cpu_profiles();
// Throws ConfigError listing the known profiles when `name` is unknown.
void apply_cpu_profile(Config& cfg, const std::string& name);

}  // namespace vmxsim
