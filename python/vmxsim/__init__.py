"""vmxsim from Python: run a simulation and read its results.

    import vmxsim
    r = vmxsim.run("build/workloads/hello.elf", smp=2, config={"system.cpu.latency.div": 40})
    r.exit_status, r.results["hello"], r.stats["system.cpu0.instructions"]

Each run gets a fresh SystemC context, so many runs work in one process (one at a time: the
SystemC kernel is process-wide, so runs from several threads are serialized). An unknown
parameter raises KeyError, a bad value ValueError, a missing or malformed kernel
vmxsim.KernelError.

Design sweeps run each point in a worker process and return a pandas DataFrame:

    df = vmxsim.sweep("build/workloads/loop.elf", grid={"system.cpu.latency.alu": [1, 2, 4]},
                      jobs=2)

`vmxsim.plot` (matplotlib) is imported on first use. See docs/python.md.
"""
import re
import threading

from ._vmxsim import KernelError
from . import _vmxsim

__all__ = ["run", "parameters", "sweep", "Result", "KernelError", "SweepError"]

_RESULT_LINE = re.compile(r"^RESULT (.*)$", re.M)
# Keys may be dotted (exit.cpuid.cycles). sim/sweep_cli.cc parses with the same pattern.
_PAIR = re.compile(r"([\w.]+)=(\S+)")
# The SystemC kernel is process-wide and not thread-safe, and the simulation runs without the
# GIL: one run at a time per process (a Dask worker with several threads relies on this).
_RUN_LOCK = threading.Lock()


def _parse_value(text):
    for conv in (lambda t: int(t, 0), float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


class Result:
    """The outcome of one run: exit status, serial output, RESULT lines and statistics."""

    def __init__(self, raw):
        self.exit_status = raw["exit_status"]
        self.stop_reason = raw["stop_reason"]
        self.guest_exit = raw["guest_exit"]
        self.serial = raw["serial"]
        self.instructions = raw["instructions"]
        self.cycles = raw["cycles"]
        self.host_seconds = raw["host_seconds"]
        # name -> {"value", "unit", "description"}
        self.stat_info = raw["stats"]
        self.stats = {k: v["value"] for k, v in raw["stats"].items()}
        self.results = {}
        for line in _RESULT_LINE.findall(self.serial):
            for key, value in _PAIR.findall(line):
                self.results[key] = _parse_value(value)

    def exit_table(self, cpu=0):
        """VM exits of one CPU by basic exit reason, as a pandas DataFrame indexed by reason:
        `exits`, `handler_cycles` (the hypervisor's root-mode cycles from those exits to the next
        VM entries) and `handler_cycles_per_exit`; reasons without exits are left out, the most
        frequent first. Works for any hypervisor the run booted, not only exitbench."""
        import pandas as pd  # only this method needs it: `import vmxsim` stays light

        prefix = "system.cpu%d.vmx." % cpu
        rows = []
        for name, value in self.stats.items():
            if not name.startswith(prefix + "exits.") or not value:
                continue
            reason = name[len(prefix + "exits."):]
            handler = self.stats.get(prefix + "handler_cycles." + reason, 0)
            rows.append((reason, int(value), int(handler), handler / value))
        df = pd.DataFrame(rows, columns=["reason", "exits", "handler_cycles",
                                         "handler_cycles_per_exit"]).set_index("reason")
        return df.sort_values("exits", ascending=False, kind="stable")

    @property
    def passed(self):
        """True when the guest exited through the debug-exit port with code 0."""
        return self.guest_exit and self.exit_status == 1

    def __repr__(self):
        return "<vmxsim.Result exit_status=%d %r, %d instructions>" % (
            self.exit_status, self.stop_reason, self.instructions)


def _sets(smp, memory, config, max_insns, max_cycles):
    sets = []
    if smp is not None:
        sets.append("system.cpus=%d" % smp)
    if memory is not None:
        sets.append("system.memory_size=%s" % memory)
    if max_insns is not None:
        sets.append("system.max_instructions=%d" % max_insns)
    if max_cycles is not None:
        sets.append("system.max_cycles=%d" % max_cycles)
    for key, value in (config or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        sets.append("%s=%s" % (key, value))
    return sets


def run(kernel, append="", smp=1, cpu="skylake", config=None, memory=None, initrd="",
        max_insns=None, max_cycles=None):
    """Runs `kernel` (a multiboot or ELF64 image) and returns a Result."""
    sets = _sets(smp, memory, config, max_insns, max_cycles)
    with _RUN_LOCK:
        raw = _vmxsim.run(str(kernel), append, initrd, cpu, sets)
    return Result(raw)


def parameters(cpu="skylake", config=None):
    """Every parameter of the default machine: name, type, unit, default, value, description."""
    sets = _sets(None, None, config, None, None)
    with _RUN_LOCK:
        return _vmxsim.parameters(cpu, sets)


from ._sweep import sweep, SweepError  # noqa: E402  (needs run() above)


def __getattr__(name):
    # `vmxsim.plot` needs matplotlib; import it only when asked for, so `import vmxsim` does not.
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError("module 'vmxsim' has no attribute %r" % name)
