"""What a sweep worker does with one design point: run it and return plain, picklable data.

This runs in a worker process (process pool or Dask worker), so it returns only what the
DataFrame needs: exit status, counts, RESULT values, the selected statistics and their units.
"""
import fnmatch

import vmxsim

# Exit status of a point whose simulation raised an internal error (docs/cli.md: a bug).
INTERNAL_ERROR = 10


def select_stats(stats, metrics):
    """The statistics whose names match one of `metrics` (exact names or fnmatch patterns such
    as "system.cpu*.cycles"); all of them when metrics is None."""
    if metrics is None:
        return dict(stats)
    return {k: v for k, v in stats.items() if any(fnmatch.fnmatchcase(k, m) for m in metrics)}


def run_point(spec):
    """spec: {"kernel", "args" (vmxsim.run keywords), "metrics", "keep_serial"}.

    A guest failure (non-1 exit status, limit, triple fault) is data, not an error. A simulator
    error is a row too (status 10), so one broken point does not lose a long sweep; only
    configuration errors, which the sweep validated up front, propagate.
    """
    try:
        r = vmxsim.run(spec["kernel"], **spec["args"])
    except (KeyError, ValueError):
        raise
    except Exception as e:  # noqa: BLE001  (any simulator failure becomes this point's row)
        return {"exit_status": INTERNAL_ERROR, "stop_reason": "internal error: %s" % e,
                "guest_exit": False, "instructions": 0, "cycles": 0, "results": {},
                "stats": {}, "units": {}, "serial": ""}
    stats = select_stats(r.stats, spec.get("metrics"))
    return {
        "exit_status": r.exit_status,
        "stop_reason": r.stop_reason,
        "guest_exit": r.guest_exit,
        "instructions": r.instructions,
        "cycles": r.cycles,
        "results": r.results,
        "stats": stats,
        "units": {k: r.stat_info[k]["unit"] for k in stats},
        "serial": r.serial if spec.get("keep_serial") else None,
    }
