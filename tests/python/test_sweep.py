"""vmxsim.sweep(): grid order, columns, validation before any run, guest failures as rows,
determinism, parallel runs equal to sequential ones, progress."""
import io
import multiprocessing
import os
import subprocess
import sys

import pandas as pd
import pytest

import vmxsim
from vmxsim import _executors
from conftest import BUILD, SHORT_LOOP, SOURCE, deterministic, kernel

GRID = {"system.cpu.latency.alu": [1, 3], "system.cpu.latency.mov": [1, 2, 5]}


@pytest.fixture(scope="module")
def parallel():
    return vmxsim.sweep(kernel("loop"), GRID, jobs=2, append=SHORT_LOOP, progress=False)


def test_rows_follow_the_grid_and_carry_every_column(parallel):
    df = parallel
    assert list(df.columns[:7]) == ["system.cpu.latency.alu", "system.cpu.latency.mov",
                                    "exit_status", "passed", "stop_reason", "instructions",
                                    "cycles"]
    assert list(zip(df["system.cpu.latency.alu"], df["system.cpu.latency.mov"])) == [
        (1, 1), (1, 2), (1, 5), (3, 1), (3, 2), (3, 5)]
    assert df["passed"].all() and (df["exit_status"] == 1).all()
    # RESULT values are numbers; the workload's own "instructions" key is renamed.
    assert df["iters"].tolist() == [2] * 6 and df["checksum"].nunique() == 1
    assert "result.instructions" in df.columns
    assert df.attrs["units"]["system.cpu0.cycles"] == "cycles"
    # Slower ALU or MOV, more cycles.
    c = df.set_index(["system.cpu.latency.alu", "system.cpu.latency.mov"])["cycles"]
    assert c[(3, 1)] > c[(1, 1)] and c[(1, 5)] > c[(1, 2)] > c[(1, 1)]


def test_parallel_equals_sequential_runs(parallel):
    serial = vmxsim.sweep(kernel("loop"), GRID, executor="serial", append=SHORT_LOOP,
                          progress=False)
    pd.testing.assert_frame_equal(deterministic(parallel), deterministic(serial))
    # ... and equals plain vmxsim.run() of each point.
    for _, row in parallel.iterrows():
        config = {k: row[k] for k in GRID}
        r = vmxsim.run(kernel("loop"), append=SHORT_LOOP, config=config)
        assert (r.instructions, r.cycles) == (row["instructions"], row["cycles"])
        assert r.results["checksum"] == row["checksum"]


def test_a_sweep_is_deterministic(parallel):
    again = vmxsim.sweep(kernel("loop"), GRID, jobs=2, append=SHORT_LOOP, progress=False,
                         reuse_workers=True)
    pd.testing.assert_frame_equal(deterministic(parallel), deterministic(again))


def test_workers_are_spawned_never_forked_from_a_simulating_parent():
    assert _executors.process_context().get_start_method() == "spawn"
    # The parent has run simulations (module fixtures above); a sweep after that still gives
    # the parent's own numbers.
    here = vmxsim.run(kernel("loop"), append=SHORT_LOOP)
    df = vmxsim.sweep(kernel("loop"), {"cpu": ["skylake"]}, jobs=1, append=SHORT_LOOP,
                      progress=False)
    assert (df["cycles"][0], df["instructions"][0]) == (here.cycles, here.instructions)


@pytest.fixture
def no_runs(monkeypatch):
    """Fails the test if any executor starts."""
    def refuse(*args, **kwargs):
        raise AssertionError("a point ran before validation finished")
    for name in ("run_serial", "run_processes", "run_dask"):
        monkeypatch.setattr(_executors, name, refuse)


def test_unknown_key_raises_before_any_run(no_runs):
    with pytest.raises(KeyError, match="did you mean 'system.cpu.latency.alu'"):
        vmxsim.sweep(kernel("loop"), {"system.cpu.latency.alu": [1, 2],
                                      "system.cpu.latency.aluu": [1]})


def test_bad_value_anywhere_in_the_grid_raises_before_any_run(no_runs):
    with pytest.raises(ValueError, match="bad value 'fast' for system.cpu.latency.alu"):
        vmxsim.sweep(kernel("loop"), {"system.cpu.latency.alu": [1, 2, "fast"]})
    with pytest.raises(ValueError, match="unknown CPU profile 'pentium'"):
        vmxsim.sweep(kernel("loop"), {"cpu": ["skylake", "pentium"]})
    with pytest.raises(ValueError, match="system.cpus"):
        vmxsim.sweep(kernel("loop"), {}, base_config={"system.cpus": 0})


def test_argument_errors(no_runs):
    with pytest.raises(ValueError, match="no values"):
        vmxsim.sweep(kernel("loop"), {"system.cpu.latency.alu": []})
    with pytest.raises(ValueError, match="executor"):
        vmxsim.sweep(kernel("loop"), {}, executor="threads")
    with pytest.raises(ValueError, match="jobs"):
        vmxsim.sweep(kernel("loop"), {}, jobs=0)
    with pytest.raises(vmxsim.KernelError, match="cannot open"):
        vmxsim.sweep("/nonexistent.elf", {})


def test_guest_failures_are_rows_not_exceptions():
    df = vmxsim.sweep(kernel("spin"), {"system.max_instructions": [20000, 40000]}, jobs=2,
                      progress=False)
    assert df["exit_status"].tolist() == [6, 6] and not df["passed"].any()
    assert df["stop_reason"].str.contains("instruction limit").all()
    assert df["instructions"][1] > df["instructions"][0] >= 20000
    tf = vmxsim.sweep(kernel("triple_fault"), {}, executor="serial", progress=False)
    assert tf["exit_status"].tolist() == [4] and "triple fault" in tf["stop_reason"][0]


def test_metrics_explicit_points_and_run_keys():
    with pytest.warns(UserWarning, match="no_such_stat"):
        df = vmxsim.sweep(kernel("hello"), {"system.cpus": [1, 2]},
                          points=[{"cpu": "functional"}], executor="serial", progress=False,
                          metrics=["system.cpu*.instructions", "no_such_stat"])
    stats = [c for c in df.columns if c.startswith("system.cpu") and "." in c[11:]]
    assert stats == ["system.cpu0.instructions", "system.cpu1.instructions"]
    # The explicit point shows the values it ran with; it has no cpu1.
    assert df["system.cpus"].tolist() == [1, 2, 1]
    assert df["cpu"].tolist() == ["skylake", "skylake", "functional"]
    assert df["cpus"].tolist() == [1, 2, 1]
    assert pd.isna(df["system.cpu1.instructions"][0])


def test_append_is_a_grid_key():
    df = vmxsim.sweep(kernel("loop"), {"append": ["iters=1 words=64", "iters=3 words=64"]},
                      executor="serial", progress=False)
    assert df["iters"].tolist() == [1, 3] and df["words"].tolist() == [64, 64]


def test_progress_bar_goes_to_the_given_stream_and_not_to_a_pipe(capsys):
    stream = io.StringIO()
    vmxsim.sweep(kernel("hello"), {"system.cpus": [1, 2, 3]}, executor="serial",
                 progress=stream)
    text = stream.getvalue()
    assert "0/3" in text and "3/3" in text and text.endswith("\n")
    vmxsim.sweep(kernel("hello"), {"system.cpus": [1]}, executor="serial")  # stderr: no tty
    assert "vmxsim.sweep" not in capsys.readouterr().err


def test_keep_serial():
    df = vmxsim.sweep(kernel("hello"), {}, executor="serial", progress=False, keep_serial=True)
    assert "RESULT hello=1" in df["serial"][0] and os.path.basename(df.columns[-1]) == "serial"


def test_exit_cost_sweep_example(tmp_path):
    """examples/exit_cost_sweep.py: one more cycle of fixed VM-exit cost is one more cycle on
    every exiting round trip, and without APICv only the posted-interrupt row is missing."""
    script = os.path.join(SOURCE, "examples", "exit_cost_sweep.py")
    p = subprocess.run([sys.executable, script, "--build", BUILD, "--out-dir", str(tmp_path),
                        "--exit-cycles", "110,220", "--iters", "5", "--jobs", "2"],
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(tmp_path / "exit_cost_sweep.csv")
    assert len(df) == 4 and df["passed"].all()
    t = df.set_index(["system.cpu.vmx.exit_cycles", "system.cpu.feature.vmx_apicv"])
    for op in ("cpuid", "vmcall", "rdmsr"):
        col = "exit.%s.cycles" % op
        assert t.loc[(220, True), col] - t.loc[(110, True), col] == 110
        assert t.loc[(220, False), col] == t.loc[(220, True), col]
    assert t.loc[(220, True), "exit.self_ipi_posted.cycles"] > 0
    assert pd.isna(t.loc[(220, False), "exit.self_ipi_posted.cycles"])


def test_nested_shadowing_sweep_example(tmp_path):
    """examples/nested_shadowing_sweep.py: with 1-cycle system instructions VMCS shadowing makes
    the nested CPUID cheaper, with 40-cycle ones dearer (L0's field copies through the shadow
    VMCS outweigh the guest hypervisor's four extra exits); the single-level CPUID moves little."""
    script = os.path.join(SOURCE, "examples", "nested_shadowing_sweep.py")
    p = subprocess.run([sys.executable, script, "--build", BUILD, "--out-dir", str(tmp_path),
                        "--latencies", "1,40", "--iters", "5", "--jobs", "2"],
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(tmp_path / "nested_shadowing_sweep.csv").set_index("system.cpu.latency.system")
    assert df["passed"].all()
    shadow, no_shadow = df["exit.cpuid_nested.cycles"], df["exit.cpuid_nested_noshadow.cycles"]
    assert shadow[1] < no_shadow[1]
    assert shadow[40] > no_shadow[40]
    assert df["exit.cpuid.cycles"][40] - df["exit.cpuid.cycles"][1] < 500
