"""Plots of vmxsim results as PNG files (matplotlib).

Figures are drawn on matplotlib's Agg canvas directly, not through pyplot: no display is needed
and the caller's pyplot backend is left alone. `import vmxsim` does not import this module;
`vmxsim.plot` imports it (and matplotlib) on first use.
"""
import numbers
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# RESULT keys of exit-latency workloads: exit.<reason>.cycles=N.
_EXIT_KEY = re.compile(r"^exit\.(.+)\.cycles$")


def exit_cycles(result_or_dict):
    """{reason: cycles} from a vmxsim.Result, a dict of RESULT values or a DataFrame row.
    Keys exit.<reason>.cycles are picked out; a mapping without such keys is taken as
    name -> cycles as it is."""
    values = getattr(result_or_dict, "results", result_or_dict)
    items = [(k, v) for k, v in dict(values).items() if isinstance(v, numbers.Real)]
    picked = [(m.group(1), v) for k, v in items for m in [_EXIT_KEY.match(str(k))] if m]
    out = dict(picked) if picked else dict(items)
    if not out:
        raise ValueError("vmxsim.plot: no exit.<reason>.cycles values (nor any numbers) to plot")
    return out


def _save(fig, out_png):
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(str(out_png), dpi=120)
    return str(out_png)


def exit_latency(result_or_dict, out_png, title="VM-exit latency by reason"):
    """Bar chart of cycles per exit reason, each bar labelled with its value. Returns out_png."""
    data = exit_cycles(result_or_dict)
    fig = Figure(figsize=(max(4.0, 0.7 * len(data) + 2), 4))
    ax = fig.add_subplot()
    bars = ax.bar(range(len(data)), list(data.values()), color="#4472c4")
    ax.bar_label(bars, labels=["%g" % v for v in data.values()], fontsize=8)
    ax.set_xticks(range(len(data)), list(data.keys()), rotation=30, ha="right")
    ax.set_ylabel("cycles")
    ax.set_title(title)
    return _save(fig, out_png)


def _label(df, column):
    unit = df.attrs.get("units", {}).get(column)
    return "%s (%s)" % (column, unit) if unit else column


def metric_vs_param(df, param, metric, out_png, hue=None, title=None):
    """Line plot of `metric` against `param` from a sweep DataFrame, one line per value of
    `hue`. Rows that share (hue, param) - other swept keys varying - are averaged, and the title
    says so. Non-numeric parameter values (CPU profiles) are spaced evenly. Returns out_png."""
    for column in [param, metric] + ([hue] if hue else []):
        if column not in df.columns:
            raise KeyError("vmxsim.plot: no column %r in the DataFrame" % column)
    keys = [hue, param] if hue else [param]
    means = df.groupby(keys, sort=True)[metric].mean()
    averaged = means.size < len(df)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    groups = means.groupby(level=0) if hue else [(None, means)]
    numeric_x = all(isinstance(v, numbers.Real) for v in df[param])
    categories = list(dict.fromkeys(df[param]))
    for name, series in groups:
        xs = series.index.get_level_values(-1)
        xs = list(xs) if numeric_x else [categories.index(v) for v in xs]
        # Points of a categorical axis (CPU profiles) are not joined: no order between them.
        ax.plot(xs, series.values, marker="o", linestyle="-" if numeric_x else "none",
                label=None if hue is None else "%s=%s" % (hue, name))
    if not numeric_x:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    ax.set_xlabel(_label(df, param))
    ax.set_ylabel(_label(df, metric))
    ax.set_title(title or "%s vs %s%s" % (metric, param, " (mean over other points)"
                                          if averaged else ""))
    ax.grid(True, alpha=0.3)
    if hue:
        ax.legend(fontsize=8)
    return _save(fig, out_png)
