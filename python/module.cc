// The compiled half of the Python module `vmxsim` (python/vmxsim/__init__.py is the public face):
// one function that runs a simulation and returns plain Python data. Errors become Python
// exceptions that name the problem: an unknown parameter is a KeyError, a bad value a
// ValueError, a bad kernel a vmxsim.KernelError (ValueError).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "platform/loader/multiboot_loader.h"
#include "sim/simulation.h"

namespace py = pybind11;
using namespace vmxsim;

namespace {

py::dict stats_to_dict(const std::vector<StatValue>& stats) {
  py::dict d;
  for (const StatValue& s : stats) {
    py::dict e;
    if (s.is_integer)
      e["value"] = s.u;
    else
      e["value"] = s.d;
    e["unit"] = s.unit;
    e["description"] = s.description;
    d[py::str(s.name)] = e;
  }
  return d;
}

py::dict run(const std::string& kernel, const std::string& append, const std::string& initrd,
             const std::string& cpu, const std::vector<std::string>& sets) {
  RunOptions o;
  o.kernel = kernel;
  o.append = append;
  o.initrd = initrd;
  o.cpu_profile = cpu;
  o.sets = sets;
  RunResult r;
  {
    py::gil_scoped_release release;  // the simulation runs without the GIL
    r = run_simulation(o);
  }
  py::dict d;
  d["exit_status"] = r.exit_status;
  d["stop_reason"] = r.stop_reason;
  d["guest_exit"] = r.guest_exit;
  d["serial"] = r.serial;
  d["instructions"] = r.instructions;
  d["cycles"] = r.cycles;
  d["host_seconds"] = r.host_seconds;
  d["stats"] = stats_to_dict(r.stats);
  d["config_json"] = r.config_json;
  return d;
}

py::list parameters(const std::string& cpu, const std::vector<std::string>& sets) {
  RunOptions o;
  o.cpu_profile = cpu;
  o.sets = sets;
  py::list out;
  for (const ParamInfo& p : list_parameters(o)) {
    py::dict d;
    d["name"] = p.name;
    d["type"] = to_string(p.type);
    d["unit"] = p.unit;
    d["default"] = p.default_text;
    d["value"] = p.value_text;
    d["description"] = p.description;
    out.append(d);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_vmxsim, m) {
  m.doc() = "vmxsim simulation runner (use the vmxsim package, not this module)";
  static py::exception<loader::LoadError> kernel_error(m, "KernelError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UnknownKeyError& e) {
      PyErr_SetString(PyExc_KeyError, e.what());
    } catch (const ConfigError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const loader::LoadError& e) {
      kernel_error(e.what());
    }
  });
  m.def("run", &run, py::arg("kernel"), py::arg("append"), py::arg("initrd"), py::arg("cpu"),
        py::arg("sets"));
  m.def("parameters", &parameters, py::arg("cpu"), py::arg("sets"));
}
