"""Design points of a sweep: the cartesian product of a grid plus explicit points, and their
validation against the machine's parameter tree before any point runs.

A point is a dict {key: value}. Keys are parameter names (`vmxsim.parameters()`) or one of the
run arguments in RUN_KEYS, so a sweep can also vary the CPU profile or the kernel command line.
"""
import itertools

# Point keys that are arguments of vmxsim.run() rather than parameters of the machine.
RUN_KEYS = ("cpu", "append")


def _axis_values(key, values):
    # A string is one value, not a sequence of characters.
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError("vmxsim.sweep: grid axis %r has no values" % key)
    return values


def expand(grid, points):
    """The design points in order: the grid's product (first key outermost, as nested loops
    would run it), then the explicit points."""
    grid = dict(grid or {})
    keys = list(grid)
    axes = [_axis_values(k, grid[k]) for k in keys]
    out = [dict(zip(keys, combo)) for combo in itertools.product(*axes)] if keys else []
    for p in points or []:
        if not isinstance(p, dict):
            raise TypeError("vmxsim.sweep: each explicit point must be a dict, got %r" % (p,))
        out.append(dict(p))
    if not out and not points:
        out.append({})  # no grid at all: one run of the base configuration
    return out


def param_columns(points):
    """The swept keys, in first-seen order: the DataFrame's leading columns."""
    cols = []
    for p in points:
        cols.extend(k for k in p if k not in cols)
    return cols


def run_arguments(point, base):
    """vmxsim.run() keyword arguments for one point. `base` holds the sweep-wide arguments:
    cpu, append, initrd and config (CPU count, memory and limits are already config keys)."""
    args = dict(base)
    args["config"] = dict(base.get("config") or {})
    for key, value in point.items():
        if key in RUN_KEYS:
            args[key] = value
        else:
            args["config"][key] = value
    return args


def validate(points, base, parameters):
    """Raises KeyError (unknown key) or ValueError (bad value) naming the key, before any run.

    The base configuration is checked once; then each distinct (key, value) of the points is
    declared on a machine built from the base plus the point's own CPU profile and CPU count
    (system.cpuN.* keys exist only for N < system.cpus). Building a machine costs about a
    millisecond, so this is cheap next to any run. `parameters` is vmxsim.parameters.
    """
    parameters(cpu=base["cpu"], config=base["config"])
    checked = set()
    for point in points:
        args = run_arguments(point, base)
        cpus = args["config"].get("system.cpus")
        for key, value in point.items():
            if key == "append":
                if not isinstance(value, str):
                    raise ValueError("vmxsim.sweep: 'append' values must be strings, got %r"
                                     % (value,))
                continue
            token = (key, repr(value), args["cpu"], repr(cpus))
            if token in checked:
                continue
            checked.add(token)
            config = dict(base["config"])
            if cpus is not None:
                config["system.cpus"] = cpus
            if key != "cpu":
                config[key] = value
            parameters(cpu=args["cpu"], config=config)
