"""vmxsim.sweep(): run a workload at many design points and collect one DataFrame row each.

The parent validates every point first (a typo fails in a millisecond, not after an hour of
runs), then hands the points to an executor (_executors) and puts the rows back in grid order.
Simulated counts are deterministic, so a sweep returns the same numbers with any executor and
any number of jobs; only sim.host_* (host time) varies.
"""
import os
import warnings

from . import _executors, _grid, _progress, _worker

EXECUTORS = ("process", "dask", "serial")
# Fixed columns after the swept parameters; RESULT keys and statistics follow.
FIXED_COLUMNS = ("exit_status", "passed", "stop_reason", "instructions", "cycles")


class SweepError(RuntimeError):
    """A sweep could not finish (a worker process died); the message names the points."""


def _base_arguments(cpu, append, initrd, smp, memory, max_insns, max_cycles, base_config):
    """Sweep-wide run arguments; CPU count, memory and limits become config keys so that one
    dict describes the machine (and a grid may override any of them)."""
    config = {}
    if smp is not None:
        config["system.cpus"] = smp
    if memory is not None:
        config["system.memory_size"] = memory
    if max_insns is not None:
        config["system.max_instructions"] = max_insns
    if max_cycles is not None:
        config["system.max_cycles"] = max_cycles
    config.update(base_config or {})
    return {"cpu": cpu, "append": append, "initrd": initrd, "config": config}


def _row(point, columns, outcome):
    """One DataFrame row. A RESULT key that collides with a parameter or fixed column is
    renamed result.<key> (both sweep front ends do the same)."""
    row = {c: point.get(c) for c in columns}
    row.update({
        "exit_status": outcome["exit_status"],
        "passed": bool(outcome["guest_exit"] and outcome["exit_status"] == 1),
        "stop_reason": outcome["stop_reason"],
        "instructions": outcome["instructions"],
        "cycles": outcome["cycles"],
    })
    results = {("result." + k if k in row else k): v for k, v in outcome["results"].items()}
    row.update(results)
    row.update(outcome["stats"])
    if outcome.get("serial") is not None:
        row["serial"] = outcome["serial"]
    return row, list(results), list(outcome["stats"])


def _fill_defaults(points, columns, base, parameters):
    """Explicit points may leave a swept key out; their row shows the value the run used."""
    if all(all(c in p for c in columns) for p in points):
        return points
    values = {p["name"]: p["value"] for p in parameters(cpu=base["cpu"], config=base["config"])}
    from . import _parse_value
    fallback = {"cpu": base["cpu"], "append": base["append"]}
    for c in columns:
        if c in base["config"]:
            fallback[c] = base["config"][c]
        elif c in values:
            fallback[c] = _parse_value(values[c])
    return [{c: p[c] if c in p else fallback.get(c) for c in columns} for p in points]


def sweep(kernel, grid=None, jobs=None, executor="process", base_config=None, append="", smp=1,
          cpu="skylake", max_insns=None, metrics=None, progress=True, dask_address=None,
          points=None, memory=None, initrd="", max_cycles=None, keep_serial=False,
          reuse_workers=False, worker_path=None):
    """Runs `kernel` at every design point and returns a pandas DataFrame, one row per point in
    grid order: the swept keys, exit_status, passed, stop_reason, instructions, cycles, every
    RESULT value (numbers where they parse) and every statistic (or those matching `metrics`,
    names or fnmatch patterns). docs/python.md describes every argument."""
    import pandas as pd

    if executor not in EXECUTORS:
        raise ValueError("vmxsim.sweep: executor must be one of %s, got %r"
                         % (", ".join(EXECUTORS), executor))
    if jobs is None:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError("vmxsim.sweep: jobs must be a positive integer, got %r" % (jobs,))
    if isinstance(metrics, str):
        metrics = [metrics]
    if not os.path.isfile(kernel):
        from . import KernelError
        raise KernelError("cannot open kernel '%s'" % kernel)

    from . import parameters
    base = _base_arguments(cpu, append, initrd, smp, memory, max_insns, max_cycles, base_config)
    design = _grid.expand(grid, points)
    _grid.validate(design, base, parameters)
    columns = _grid.param_columns(design)
    shown = _fill_defaults(design, columns, base, parameters)

    specs = [{"kernel": os.path.abspath(kernel), "args": _grid.run_arguments(p, base),
              "metrics": metrics, "keep_serial": keep_serial} for p in design]
    rows = [None] * len(specs)
    keys = [None] * len(specs)  # (RESULT columns, statistic columns) of each row
    units = {}
    bar = _progress.Progress(len(specs), _progress.stream_for(progress))

    def on_done(i, outcome):
        rows[i], *keys[i] = _row(shown[i], columns, outcome)
        units.update(outcome["units"])
        bar.advance(rows[i]["passed"])

    try:
        if executor == "serial":
            _executors.run_serial(specs, on_done)
        elif executor == "process":
            _executors.run_processes(specs, jobs, on_done, reuse_workers)
        else:
            _executors.run_dask(specs, jobs, on_done, dask_address, worker_path)
    finally:
        bar.close()

    if metrics is not None:
        unmatched = [m for m in metrics if not _worker.select_stats(units, [m])]
        if unmatched:
            warnings.warn("vmxsim.sweep: metrics %s matched no statistic" % unmatched,
                          stacklevel=2)
    order = columns + list(FIXED_COLUMNS)
    order += _union(k[0] for k in keys) + _union(k[1] for k in keys)
    if keep_serial:
        order.append("serial")
    df = pd.DataFrame.from_records(rows, columns=order)
    df.attrs["units"] = units
    return df


def _union(lists):
    """Keys in first-seen order over the rows: points that print different RESULT keys or have
    different statistics (more CPUs) still share one table, with NaN where a row has none."""
    order = {}
    for keys in lists:
        order.update(dict.fromkeys(keys))
    return list(order)
