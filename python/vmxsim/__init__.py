"""vmxsim from Python: run a simulation and read its results.

    import vmxsim
    r = vmxsim.run("build/workloads/hello.elf", smp=2, config={"system.cpu.latency.div": 40})
    r.exit_status, r.results["hello"], r.stats["system.cpu0.instructions"]

Each run gets a fresh SystemC context, so many runs work in one process. An unknown parameter
raises KeyError, a bad value ValueError, a missing or malformed kernel vmxsim.KernelError.
"""
import re

from ._vmxsim import KernelError
from . import _vmxsim

__all__ = ["run", "parameters", "Result", "KernelError"]

_RESULT_LINE = re.compile(r"^RESULT (.*)$", re.M)
_PAIR = re.compile(r"(\w+)=(\S+)")


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
    raw = _vmxsim.run(str(kernel), append, initrd, cpu,
                      _sets(smp, memory, config, max_insns, max_cycles))
    return Result(raw)


def parameters(cpu="skylake", config=None):
    """Every parameter of the default machine: name, type, unit, default, value, description."""
    return _vmxsim.parameters(cpu, _sets(None, None, config, None, None))
