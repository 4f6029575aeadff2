"""The Python module: runs, results, statistics, errors, determinism."""
import os

import pytest

import vmxsim

WL = os.environ.get("VMXSIM_WORKLOADS", "build/workloads")


def kernel(name):
    return os.path.join(WL, name + ".elf")


def test_run_returns_status_serial_results_and_stats():
    r = vmxsim.run(kernel("hello"))
    assert r.passed and r.exit_status == 1 and r.stop_reason == "guest exit"
    assert "SUMMARY: 5 tests, 0 failures" in r.serial
    assert r.results["hello"] == 1 and r.results["cpus"] == 1
    assert r.stats["system.cpu0.instructions"] == r.instructions > 1000
    assert r.stat_info["system.cpu0.cycles"]["unit"] == "cycles"


def test_parameters_reach_the_machine():
    r = vmxsim.run(kernel("hello"), smp=3, memory="512M")
    assert r.results["cpus"] == 3 and r.results["ram_size_mib"] == 512


def test_many_runs_in_one_process_are_identical():
    a = vmxsim.run(kernel("cpu_basics"), cpu="functional")
    b = vmxsim.run(kernel("cpu_basics"), cpu="functional")
    assert a.passed and b.passed
    assert (a.instructions, a.cycles) == (b.instructions, b.cycles)
    assert a.results == b.results


def test_profile_changes_cycles_not_results():
    fast = vmxsim.run(kernel("cpu_basics"), cpu="functional")
    # Same profile, one latency changed: realistic profiles (timing models, several
    # instructions per cycle) may well take fewer cycles than `functional`'s one per instruction.
    slow = vmxsim.run(kernel("cpu_basics"), cpu="functional", config={"system.cpu.latency.div": 200})
    assert fast.results == slow.results
    assert slow.cycles > fast.cycles


def test_limit_stops_a_runaway_guest():
    r = vmxsim.run(kernel("spin"), max_insns=100000)
    assert r.exit_status == 6 and not r.guest_exit
    assert "instruction limit" in r.stop_reason


def test_unknown_key_is_key_error():
    with pytest.raises(KeyError, match="system.cpu.no_such_key"):
        vmxsim.run(kernel("hello"), config={"system.cpu.no_such_key": 1})


def test_bad_value_is_value_error():
    with pytest.raises(ValueError, match="system.cpus"):
        vmxsim.run(kernel("hello"), config={"system.cpus": "many"})


def test_missing_kernel_is_kernel_error():
    with pytest.raises(vmxsim.KernelError, match="cannot open"):
        vmxsim.run("/nonexistent/kernel.elf")


def test_parameters_are_self_describing():
    params = {p["name"]: p for p in vmxsim.parameters()}
    p = params["system.cpu.latency.div"]
    assert p["type"] == "uint" and p["unit"] == "cycles" and p["description"]
    assert params["system.cpus"]["value"] == "1"


def test_exit_table_by_reason():
    r = vmxsim.run(kernel("exitbench"), append="iters=20")
    assert r.passed
    t = r.exit_table()
    assert list(t.columns) == ["exits", "handler_cycles", "handler_cycles_per_exit"]
    assert (t["exits"] > 0).all()
    assert list(t["exits"]) == sorted(t["exits"], reverse=True)
    # exitbench's CPUID loop exits iters times (plus the hypervisor's own probes in the guest).
    assert t.loc["cpuid", "exits"] >= 20
    assert t.loc["cpuid", "handler_cycles"] == r.stats["system.cpu0.vmx.handler_cycles.cpuid"]
    assert t.loc["cpuid", "handler_cycles_per_exit"] == (
        t.loc["cpuid", "handler_cycles"] / t.loc["cpuid", "exits"])
    assert vmxsim.run(kernel("hello")).exit_table().empty
