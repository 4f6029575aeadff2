"""Shared by the Python tests: where the build is, and how to compare sweep results."""
import os

import pytest

BUILD = os.environ.get("VMXSIM_BUILD", "build")
WORKLOADS = os.environ.get("VMXSIM_WORKLOADS", os.path.join(BUILD, "workloads"))
SOURCE = os.environ.get("VMXSIM_SOURCE", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BINARY = os.environ.get("VMXSIM_BINARY", os.path.join(BUILD, "vmxsim"))

# A short loop run (about 80,000 instructions, a few milliseconds).
SHORT_LOOP = "iters=2 words=256"


def kernel(name):
    return os.path.join(WORKLOADS, name + ".elf")


def deterministic(df):
    """A sweep DataFrame without the host-time columns (the only ones that vary by run)."""
    return df[[c for c in df.columns if not c.startswith("sim.host_")]]


@pytest.fixture
def loop_kernel():
    return kernel("loop")
