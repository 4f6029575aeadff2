"""vmxsim.plot and the examples: PNGs from results and sweeps; matplotlib stays optional."""
import os
import subprocess
import sys

import pandas as pd
import pytest

import vmxsim
from conftest import BUILD, SOURCE, kernel

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC and os.path.getsize(path) > 2000


def test_import_vmxsim_does_not_import_matplotlib():
    code = "import sys, vmxsim; print('matplotlib' in sys.modules); vmxsim.plot; " \
           "print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


def test_exit_cycles_picks_exit_reason_keys():
    results = {"exit.cpuid.cycles": 1200, "exit.vmcall.cycles": 950, "exits": 40, "ok": "yes"}
    assert vmxsim.plot.exit_cycles(results) == {"cpuid": 1200, "vmcall": 950}
    assert vmxsim.plot.exit_cycles({"cpuid": 10.5, "rdmsr": 7}) == {"cpuid": 10.5, "rdmsr": 7}
    with pytest.raises(ValueError, match="exit"):
        vmxsim.plot.exit_cycles({"name": "text"})


def test_exit_latency_png_from_a_result_and_a_dict(tmp_path):
    r = vmxsim.run(kernel("hello"))
    r.results.update({"exit.cpuid.cycles": 1500, "exit.hlt.cycles": 800})
    assert is_png(vmxsim.plot.exit_latency(r, tmp_path / "a.png"))
    assert is_png(vmxsim.plot.exit_latency({"cpuid": 1, "vmcall": 2}, tmp_path / "b.png"))


def test_metric_vs_param(tmp_path):
    df = pd.DataFrame({"lat": [1, 2, 1, 2], "mov": [1, 1, 4, 4], "cycles": [10, 20, 30, 40]})
    df.attrs["units"] = {"cycles": "cycles"}
    assert is_png(vmxsim.plot.metric_vs_param(df, "lat", "cycles", tmp_path / "h.png", hue="mov"))
    assert is_png(vmxsim.plot.metric_vs_param(df, "lat", "cycles", tmp_path / "m.png"))
    with pytest.raises(KeyError, match="nope"):
        vmxsim.plot.metric_vs_param(df, "lat", "nope", tmp_path / "x.png")


def test_sweep_latency_example_end_to_end(tmp_path):
    script = os.path.join(SOURCE, "examples", "sweep_latency.py")
    p = subprocess.run([sys.executable, script, "--build", BUILD, "--out-dir", str(tmp_path),
                        "--alu", "1,2", "--mov", "1,3", "--append", "iters=2 words=256",
                        "--jobs", "2"], capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(tmp_path / "sweep_latency.csv")
    assert len(df) == 4 and df["passed"].all()
    cycles = df.set_index(["system.cpu.latency.alu", "system.cpu.latency.mov"])["cycles"]
    assert cycles[(2, 1)] > cycles[(1, 1)] and cycles[(1, 3)] > cycles[(1, 1)]
    assert is_png(tmp_path / "sweep_latency.png")
