#include "sim/sweep_cli.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "platform/loader/multiboot_loader.h"
#include "sim/simulation.h"

namespace po = boost::program_options;

namespace vmxsim {
namespace {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Axis {
  std::string key;
  std::vector<std::string> values;
};
using Point = std::vector<std::pair<std::string, std::string>>;  // (key, value), axis order

// What a child reports about its point. Values stay text until the output is written.
struct PointResult {
  int exit_status = exit_status::kInternal;
  bool guest_exit = false;
  std::string stop_reason = "the worker process reported nothing";
  uint64_t instructions = 0, cycles = 0;
  std::vector<std::pair<std::string, std::string>> results;  // RESULT key, value text
  std::vector<std::pair<std::string, std::string>> stats;    // name, number text
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

Axis parse_axis(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--grid wants key=value1,value2,...; got '" + text + "'");
  Axis a{text.substr(0, eq), split(text.substr(eq + 1), ',')};
  if (a.values.empty()) throw UsageError("--grid " + a.key + " has no values");
  for (const std::string& v : a.values)
    if (v.empty()) throw UsageError("--grid " + a.key + " has an empty value");
  return a;
}

// The cartesian product, first axis outermost (the order nested loops would run).
std::vector<Point> expand(const std::vector<Axis>& axes) {
  std::vector<Point> points{Point{}};
  for (const Axis& a : axes) {
    std::vector<Point> next;
    for (const Point& p : points)
      for (const std::string& v : a.values) {
        next.push_back(p);
        next.back().emplace_back(a.key, v);
      }
    points.swap(next);
  }
  return points;
}

RunOptions point_options(const RunOptions& base, const Point& point) {
  RunOptions ro = base;
  for (const auto& [key, value] : point) {
    if (key == "cpu")
      ro.cpu_profile = value;
    else if (key == "append")
      ro.append = value;
    else
      ro.sets.push_back(key + "=" + value);
  }
  return ro;
}

// ---- Child processes --------------------------------------------------------------------
// SystemC is never forked: the parent creates no simulation context at all, and each child
// runs exactly one piece of work (a validation or a point) in the context it inherits unused.

struct Child {
  pid_t pid;
  int fd;
  size_t index;
  std::string output;
};

Child start_child(size_t index, const std::function<std::string()>& work) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    dup2(STDERR_FILENO, STDOUT_FILENO);  // stray prints must not mix into a CSV on stdout
    const std::string out = work();
    for (size_t done = 0; done < out.size();) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(1);
      done += static_cast<size_t>(n);
    }
    _exit(0);  // no atexit handlers or static destructors of the parent's copy
  }
  close(fds[1]);
  return {pid, fds[0], index, ""};
}

// Reads what is available; true at end of file (the child is then reaped, status in *status).
bool drain(Child& c, int* status) {
  char buf[65536];
  const ssize_t n = read(c.fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  if (n > 0) {
    c.output.append(buf, static_cast<size_t>(n));
    return false;
  }
  // End of file (or a read error): the report is as complete as it will get.
  close(c.fd);
  while (waitpid(c.pid, status, 0) < 0 && errno == EINTR) {
  }
  return true;
}

// Runs `work` for each index 0..count-1 in up to `jobs` children at once; `done` gets each
// child's output and wait status as it ends.
void run_children(size_t count, unsigned jobs, const std::function<std::string(size_t)>& work,
                  const std::function<void(size_t, const std::string&, int)>& done) {
  std::vector<Child> running;
  size_t next = 0;
  while (next < count || !running.empty()) {
    while (running.size() < jobs && next < count) {
      const size_t i = next++;
      running.push_back(start_child(i, [&work, i] { return work(i); }));
    }
    std::vector<pollfd> fds;
    for (const Child& c : running) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    for (size_t k = fds.size(); k-- > 0;) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int status = 0;
      if (drain(running[k], &status)) {
        done(running[k].index, running[k].output, status);
        running.erase(running.begin() + static_cast<long>(k));
      }
    }
  }
}

// ---- One point: the child's report and the parent's reading of it ----------------------

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// RESULT lines as Python's vmxsim.Result reads them: every key=value in a line that starts
// with "RESULT " (keys may be dotted).
std::vector<std::pair<std::string, std::string>> parse_results(const std::string& serial) {
  static const std::regex pair(R"(([\w.]+)=(\S+))");
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(serial);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RESULT ", 0) != 0) continue;
    const std::string rest = line.substr(7);
    for (std::sregex_iterator it(rest.begin(), rest.end(), pair), end; it != end; ++it)
      out.emplace_back((*it)[1], (*it)[2]);
  }
  return out;
}

// Line format: "<field> <value>" per line, "end" last (a missing "end" means the child died).
std::string run_point_in_child(const RunOptions& ro) {
  std::ostringstream out;
  auto failure = [&out](int status, const std::string& why) {
    out << "exit_status " << status << "\nguest_exit 0\nstop_reason " << one_line(why) << "\nend\n";
    return out.str();
  };
  RunResult r;
  try {
    r = run_simulation(ro);
  } catch (const ConfigError& e) {
    return failure(exit_status::kUsage, e.what());
  } catch (const loader::LoadError& e) {
    return failure(exit_status::kUsage, e.what());
  } catch (const std::exception& e) {
    return failure(exit_status::kInternal, std::string("internal error: ") + e.what());
  }
  out << "exit_status " << r.exit_status << "\nguest_exit " << r.guest_exit << "\nstop_reason "
      << one_line(r.stop_reason) << "\ninstructions " << r.instructions << "\ncycles " << r.cycles
      << "\n";
  for (const auto& [k, v] : parse_results(r.serial)) out << "result " << k << " " << v << "\n";
  for (const StatValue& s : r.stats)
    out << "stat " << s.name << " " << (s.is_integer ? std::to_string(s.u) : format_double(s.d))
        << "\n";
  out << "end\n";
  return out.str();
}

PointResult read_point(const std::string& report, int wait_status) {
  PointResult p;
  bool complete = false;
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    const size_t sp = line.find(' ');
    const std::string field = line.substr(0, sp);
    const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    const size_t sp2 = rest.find(' ');
    if (field == "exit_status")
      p.exit_status = std::atoi(rest.c_str());
    else if (field == "guest_exit")
      p.guest_exit = rest == "1";
    else if (field == "stop_reason")
      p.stop_reason = rest;
    else if (field == "instructions")
      p.instructions = std::strtoull(rest.c_str(), nullptr, 10);
    else if (field == "cycles")
      p.cycles = std::strtoull(rest.c_str(), nullptr, 10);
    else if (field == "result")
      p.results.emplace_back(rest.substr(0, sp2), rest.substr(sp2 + 1));
    else if (field == "stat")
      p.stats.emplace_back(rest.substr(0, sp2), rest.substr(sp2 + 1));
    else if (field == "end")
      complete = true;
  }
  if (WIFSIGNALED(wait_status)) {
    p = PointResult{};
    p.stop_reason = std::string("simulator crashed (signal ") +
                    std::to_string(WTERMSIG(wait_status)) + ", " +
                    strsignal(WTERMSIG(wait_status)) + ")";
  } else if (!complete) {
    p = PointResult{};
  }
  return p;
}

// ---- Validation, before any point runs --------------------------------------------------

// Declares the base configuration and each distinct (key, value) of the grid on a machine
// built with the point's own CPU profile and CPU count (system.cpuN.* keys exist only for
// N < system.cpus), all in one child. Returns "" or the first error message.
std::string validate(const RunOptions& base, const std::vector<Point>& points) {
  std::string report;
  int status = 0;
  run_children(
      1, 1,
      [&](size_t) -> std::string {
        try {
          list_parameters(base);
          std::set<std::string> checked;
          for (const Point& point : points) {
            std::string cpus, cpu = base.cpu_profile;
            for (const auto& [k, v] : point) {
              if (k == "system.cpus") cpus = v;
              if (k == "cpu") cpu = v;
            }
            for (const auto& [k, v] : point) {
              if (k == "append" || !checked.insert(k + "=" + v + "|" + cpu + "|" + cpus).second)
                continue;
              RunOptions ro = base;
              ro.cpu_profile = cpu;
              if (!cpus.empty()) ro.sets.push_back("system.cpus=" + cpus);
              if (k != "cpu") ro.sets.push_back(k + "=" + v);
              list_parameters(ro);
            }
          }
          return "";
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      [&](size_t, const std::string& out, int st) { report = out, status = st; });
  if (report.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    return "validation process failed (status " + std::to_string(status) + ")";
  return report;
}

// ---- Output -----------------------------------------------------------------------------

enum class Kind { Text, Number, Bool };
struct Cell {
  Kind kind = Kind::Text;
  std::string text;
  bool present = false;
};

// A RESULT or parameter value as Python's int(text, 0), else float(text), reads it: numbers
// become decimal text, anything else stays a string.
Cell classify(const std::string& t) {
  Cell c{Kind::Text, t, true};
  const bool neg = !t.empty() && (t[0] == '-' || t[0] == '+');
  const std::string body = t.substr(neg ? 1 : 0);
  int base = 10;
  std::string digits = body;
  if (body.size() > 2 && body[0] == '0' && std::strchr("xXoObB", body[1])) {
    base = std::strchr("xX", body[1]) ? 16 : std::strchr("oO", body[1]) ? 8 : 2;
    digits = body.substr(2);
  } else if (body.size() > 1 && body[0] == '0' &&
             body.find_first_not_of('0') != std::string::npos) {
    digits = "";  // Python rejects leading zeros in decimal ("010")
  }
  if (!digits.empty()) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(digits.c_str(), &end, base);
    if (*end == '\0' && errno == 0 && digits.find_first_of("+- ") == std::string::npos &&
        (!neg || v <= 9223372036854775808ull)) {
      c.kind = Kind::Number;
      c.text = (t[0] == '-' && v ? "-" : "") + std::to_string(v);
      return c;
    }
  }
  if (t.find_first_of("xXpP") == std::string::npos || t.find("inf") != std::string::npos) {
    char* end = nullptr;
    const double d = std::strtod(t.c_str(), &end);
    if (!t.empty() && *end == '\0') {
      c.kind = Kind::Number;
      c.text = std::isfinite(d) ? format_double(d)
                                : (std::isnan(d) ? "nan"
                                   : d > 0       ? "inf"
                                                 : "-inf");
    }
  }
  return c;
}

struct Table {
  std::vector<std::string> columns;
  std::vector<std::map<std::string, Cell>> rows;
};

// Columns: swept keys, the fixed ones, RESULT keys, statistics (each group in first-seen
// order). A RESULT key that collides with an earlier column becomes result.<key>, as in Python.
Table make_table(const std::vector<Axis>& axes, const std::vector<Point>& points,
                 const std::vector<PointResult>& results) {
  Table t;
  for (const Axis& a : axes) t.columns.push_back(a.key);
  const std::vector<std::string> fixed{"exit_status", "passed", "stop_reason", "instructions",
                                       "cycles"};
  t.columns.insert(t.columns.end(), fixed.begin(), fixed.end());
  const std::set<std::string> taken(t.columns.begin(), t.columns.end());
  std::vector<std::string> result_cols, stat_cols;
  std::set<std::string> seen;
  for (size_t i = 0; i < points.size(); ++i) {
    const PointResult& p = results[i];
    std::map<std::string, Cell> row;
    for (const auto& [k, v] : points[i]) row[k] = classify(v);
    row["exit_status"] = {Kind::Number, std::to_string(p.exit_status), true};
    row["passed"] = {Kind::Bool, p.guest_exit && p.exit_status == 1 ? "True" : "False", true};
    row["stop_reason"] = {Kind::Text, p.stop_reason, true};
    row["instructions"] = {Kind::Number, std::to_string(p.instructions), true};
    row["cycles"] = {Kind::Number, std::to_string(p.cycles), true};
    for (const auto& [k, v] : p.results) {
      const std::string col = taken.count(k) ? "result." + k : k;
      if (seen.insert("r:" + col).second) result_cols.push_back(col);
      row[col] = classify(v);
    }
    for (const auto& [k, v] : p.stats) {
      if (seen.insert("s:" + k).second) stat_cols.push_back(k);
      row[k] = {Kind::Number, v, true};
    }
    t.rows.push_back(std::move(row));
  }
  t.columns.insert(t.columns.end(), result_cols.begin(), result_cols.end());
  t.columns.insert(t.columns.end(), stat_cols.begin(), stat_cols.end());
  return t;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos &&
      (s.empty() || (s.front() != ' ' && s.back() != ' ')))
    return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void write_csv(const Table& t, std::ostream& out) {
  for (size_t i = 0; i < t.columns.size(); ++i) out << (i ? "," : "") << csv_field(t.columns[i]);
  out << "\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const auto it = row.find(t.columns[i]);
      out << (i ? "," : "") << (it == row.end() ? "" : csv_field(it->second.text));
    }
    out << "\n";
  }
}

// A list of flat records (pandas.read_json(orient="records") reads it back).
void write_json(const Table& t, std::ostream& out) {
  out << "[";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    out << (r ? ",\n " : "\n ") << "{";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      out << (i ? ", " : "") << "\"" << json_escape(t.columns[i]) << "\": ";
      const auto it = t.rows[r].find(t.columns[i]);
      if (it == t.rows[r].end()) {
        out << "null";
      } else if (it->second.kind == Kind::Text) {
        out << "\"" << json_escape(it->second.text) << "\"";
      } else if (it->second.kind == Kind::Bool) {
        out << (it->second.text == "True" ? "true" : "false");
      } else {
        const std::string& n = it->second.text;
        out << (n == "nan" || n == "inf" || n == "-inf" ? "null" : n);
      }
    }
    out << "}";
  }
  out << "\n]\n";
}

// ---- Progress ---------------------------------------------------------------------------

class Progress {
 public:
  Progress(size_t total, bool on) : m_total(total), m_on(on) { draw(); }
  void advance(bool passed) {
    ++m_done;
    m_not_passed += passed ? 0 : 1;
    draw();
  }
  void close() {
    if (m_on) std::cerr << "\n" << std::flush;
  }

 private:
  static std::string clock(double s) {
    char buf[32];
    const long t = static_cast<long>(s);
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
  }
  void draw() {
    if (!m_on) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    const size_t filled = 24 * m_done / std::max<size_t>(m_total, 1);
    std::cerr << "\rvmxsim sweep [" << std::string(filled, '#') << std::string(24 - filled, '-')
              << "] " << m_done << "/" << m_total;
    if (m_not_passed) std::cerr << " (" << m_not_passed << " not passed)";
    std::cerr << " " << clock(elapsed);
    if (m_done > 0 && m_done < m_total)
      std::cerr << ", ~" << clock(elapsed / m_done * (m_total - m_done)) << " left";
    std::cerr << std::flush;
  }
  size_t m_total, m_done = 0, m_not_passed = 0;
  bool m_on;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

// ---- Options ----------------------------------------------------------------------------

struct SweepOptions {
  RunOptions base;
  std::vector<Axis> axes;
  unsigned jobs = 1;
  std::string out;  // "" = CSV on stdout
  bool progress = false;
};

// Returns false when --help was given (help printed).
bool parse_options(int argc, char** argv, SweepOptions& so) {
  po::options_description opts("vmxsim sweep options");
  // clang-format off
  opts.add_options()
      ("help,h", "show this help")
      ("kernel", po::value<std::string>()->required(), "kernel to run at every point")
      ("grid", po::value<std::vector<std::string>>()->composing(),
       "a swept parameter: key=v1,v2,... (repeat for more axes; also cpu=... and append=...)")
      ("set", po::value<std::vector<std::string>>()->composing(), "a fixed parameter: key=value")
      ("config", po::value<std::vector<std::string>>()->composing(), "fixed parameters from a file")
      ("jobs,j", po::value<unsigned>(), "points run at once (default: host cores)")
      ("out,o", po::value<std::string>(), "results file: .json for JSON, else CSV (default: CSV on stdout)")
      ("append", po::value<std::string>()->default_value(""), "kernel command line")
      ("initrd", po::value<std::string>()->default_value(""), "multiboot modules")
      ("cpu", po::value<std::string>()->default_value("skylake"), "CPU profile")
      ("smp", po::value<std::string>(), "number of CPUs")
      ("m", po::value<std::string>(), "RAM size")
      ("max-insns", po::value<std::string>(), "instruction limit per point")
      ("max-cycles", po::value<std::string>(), "cycle limit per point")
      ("progress", "progress bar on stderr even when it is not a terminal")
      ("quiet,q", "no progress bar");
  // clang-format on
  po::variables_map vm;
  po::store(po::command_line_parser(argc - 1, argv + 1)
                .options(opts)
                .style(po::command_line_style::default_style |
                       po::command_line_style::allow_long_disguise)
                .run(),
            vm);
  if (vm.count("help")) {
    std::cout << "usage: vmxsim sweep --kernel FILE --grid key=v1,v2 [--grid ...] [--set k=v] "
                 "[--jobs N] [--out results.csv|results.json]\n"
              << opts;
    return false;
  }
  po::notify(vm);
  so.base = run_options_from(vm);
  so.base.kernel = vm["kernel"].as<std::string>();
  std::set<std::string> keys;
  if (vm.count("grid"))
    for (const std::string& g : vm["grid"].as<std::vector<std::string>>()) {
      so.axes.push_back(parse_axis(g));
      if (!keys.insert(so.axes.back().key).second)
        throw UsageError("--grid " + so.axes.back().key + " given twice");
    }
  so.jobs = vm.count("jobs") ? vm["jobs"].as<unsigned>()
                             : std::max(1u, std::thread::hardware_concurrency());
  if (so.jobs == 0) throw UsageError("--jobs must be at least 1");
  if (vm.count("out")) so.out = vm["out"].as<std::string>();
  so.progress = !vm.count("quiet") && (vm.count("progress") || isatty(STDERR_FILENO));
  return true;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

int usage_error(const std::string& msg) {
  std::cerr << "vmxsim sweep: error: " << msg << "\n(try 'vmxsim sweep --help')\n";
  return exit_status::kUsage;
}

}  // namespace

RunOptions run_options_from(const po::variables_map& vm) {
  // QEMU's -m takes MiB without a suffix, and suffixes in either case ("4g", "512M").
  auto memory_size_to_bytes = [](std::string m) {
    if (m.empty()) return m;
    const char last = m.back();
    if (std::isdigit(static_cast<unsigned char>(last))) return m + "M";
    if (std::strchr("kmgt", last)) m.back() = static_cast<char>(std::toupper(static_cast<unsigned char>(last)));
    return m;
  };
  RunOptions ro;
  ro.append = vm["append"].as<std::string>();
  ro.initrd = vm["initrd"].as<std::string>();
  ro.cpu_profile = vm["cpu"].as<std::string>();
  if (vm.count("config")) ro.config_files = vm["config"].as<std::vector<std::string>>();
  if (vm.count("smp")) ro.sets.push_back("system.cpus=" + vm["smp"].as<std::string>());
  if (vm.count("m"))
    ro.sets.push_back("system.memory_size=" + memory_size_to_bytes(vm["m"].as<std::string>()));
  if (vm.count("max-insns"))
    ro.sets.push_back("system.max_instructions=" + vm["max-insns"].as<std::string>());
  if (vm.count("max-cycles"))
    ro.sets.push_back("system.max_cycles=" + vm["max-cycles"].as<std::string>());
  if (vm.count("set"))
    for (const std::string& s : vm["set"].as<std::vector<std::string>>()) ro.sets.push_back(s);
  return ro;
}

int sweep_main(int argc, char** argv) {
  SweepOptions so;
  try {
    if (!parse_options(argc, argv, so)) return 0;
  } catch (const po::error& e) {
    return usage_error(e.what());
  } catch (const UsageError& e) {
    return usage_error(e.what());
  }
  if (!std::ifstream(so.base.kernel))
    return usage_error("cannot open kernel '" + so.base.kernel + "'");
  const std::vector<Point> points = expand(so.axes);
  const std::string invalid = validate(so.base, points);
  if (!invalid.empty()) return usage_error(invalid);
  // Opened only now, so that a rejected sweep leaves no empty results file behind.
  std::ofstream file;
  if (!so.out.empty()) {
    file.open(so.out);
    if (!file) return usage_error("cannot write " + so.out);
  }

  std::vector<PointResult> results(points.size());
  Progress progress(points.size(), so.progress);
  bool all_ran = true;
  run_children(
      points.size(), so.jobs,
      [&](size_t i) { return run_point_in_child(point_options(so.base, points[i])); },
      [&](size_t i, const std::string& out, int status) {
        results[i] = read_point(out, status);
        const PointResult& p = results[i];
        all_ran &= p.exit_status != exit_status::kInternal && p.exit_status != exit_status::kUsage;
        progress.advance(p.guest_exit && p.exit_status == 1);
      });
  progress.close();

  const Table table = make_table(so.axes, points, results);
  std::ostream& out = so.out.empty() ? std::cout : file;
  if (ends_with(so.out, ".json"))
    write_json(table, out);
  else
    write_csv(table, out);
  out.flush();
  if (!out) {
    std::cerr << "vmxsim sweep: error: writing " << (so.out.empty() ? "stdout" : so.out)
              << " failed\n";
    return exit_status::kInternal;
  }
  return all_ran ? 0 : exit_status::kInternal;
}

}  // namespace vmxsim
