"""`vmxsim sweep` (the C++ front end) gives the same table as vmxsim.sweep() for one grid."""
import json
import subprocess

import pandas as pd

import vmxsim
from conftest import BINARY, SHORT_LOOP, deterministic, kernel


def cli_sweep(tmp_path, out_name, *args):
    out = tmp_path / out_name
    p = subprocess.run([BINARY, "sweep", "--kernel", kernel("loop"), "--append", SHORT_LOOP,
                        "--grid", "system.cpu.latency.alu=1,3", "--grid", "cpu=skylake,haswell",
                        "--jobs", "2", "--out", str(out), *args],
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    return out


def test_cli_csv_and_json_equal_the_python_sweep(tmp_path):
    py = vmxsim.sweep(kernel("loop"), {"system.cpu.latency.alu": [1, 3],
                                       "cpu": ["skylake", "haswell"]},
                      append=SHORT_LOOP, jobs=2, progress=False)
    csv = pd.read_csv(cli_sweep(tmp_path, "r.csv"))
    records = json.loads(cli_sweep(tmp_path, "r.json").read_text())
    js = pd.DataFrame.from_records(records)
    for cli in (csv, js):
        assert list(cli.columns) == list(py.columns)
        pd.testing.assert_frame_equal(deterministic(cli), deterministic(py), check_dtype=False)


def test_cli_rejects_bad_keys_before_running(tmp_path):
    p = subprocess.run([BINARY, "sweep", "--kernel", kernel("loop"),
                        "--grid", "system.cpu.latency.alu=1,2", "--grid", "system.cpu.latncy.mov=1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert "unknown configuration key 'system.cpu.latncy.mov'" in p.stderr
