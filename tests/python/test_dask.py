"""executor="dask": a LocalCluster sweep equals a sequential one, and the task function brings
its own sys.path so that workers started without PYTHONPATH can import vmxsim."""
import os
import subprocess
import sys

import pandas as pd
import pytest

import vmxsim
from vmxsim import _executors
from conftest import SHORT_LOOP, deterministic, kernel

pytest.importorskip("dask.distributed")
cloudpickle = pytest.importorskip("cloudpickle")

GRID = {"system.cpu.latency.alu": [1, 2], "system.cpu.latency.mov": [1, 3]}


def test_local_cluster_sweep_equals_sequential():
    dask = vmxsim.sweep(kernel("loop"), GRID, executor="dask", jobs=2, append=SHORT_LOOP,
                        progress=False)
    serial = vmxsim.sweep(kernel("loop"), GRID, executor="serial", append=SHORT_LOOP,
                          progress=False)
    assert dask["passed"].all() and len(dask) == 4
    pd.testing.assert_frame_equal(deterministic(dask), deterministic(serial))


def test_task_imports_vmxsim_on_a_worker_without_pythonpath(tmp_path):
    spec = {"kernel": os.path.abspath(kernel("loop")),
            "args": {"append": SHORT_LOOP, "config": {"system.cpu.latency.alu": 2}},
            "metrics": ["system.cpu0.cycles"], "keep_serial": False}
    task = _executors.make_dask_task(_executors.package_dir())
    (tmp_path / "task.pkl").write_bytes(cloudpickle.dumps((task, spec)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import pickle, sys; assert 'vmxsim' not in sys.modules; "
            "task, spec = pickle.load(open(sys.argv[1], 'rb')); out = task(spec); "
            "print(out['exit_status'], out['cycles'])")
    # Run from an unrelated directory: nothing but the task's own sys.path finds vmxsim.
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "task.pkl")], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    here = vmxsim.run(kernel("loop"), append=SHORT_LOOP, config={"system.cpu.latency.alu": 2})
    assert p.stdout.split() == ["1", str(here.cycles)]
