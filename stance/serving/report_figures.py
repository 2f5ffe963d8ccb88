"""The figures of ``stance report``: stance over time (weekly shares with CI bands and the number
of statements per week) and holders on the net-stance axis.

Drawn on matplotlib ``Figure`` objects with an explicit Agg canvas, created inside the functions:
no pyplot, no global backend is set, importing this module loads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

#: One colour per label, the same in every figure.
COLOURS = {"support": "tab:green", "oppose": "tab:red", "neutral": "tab:gray"}

#: Most holders drawn on the net-stance axis (the ones with most statements; the table has all).
MAX_HOLDERS = 40


def png_bytes(figure) -> bytes:
    """A figure rendered as PNG by matplotlib's Agg canvas (no pyplot, no global backend)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def weekly_figure(weeks: Sequence, labels: Sequence[str]):
    """Each label's weekly share with its 95% CI band (top) and statements per week (bottom).

    Parameters
    ----------
    weeks : sequence of stance.evaluation.aggregate.GroupStance
        The week view's groups (``group`` is ``YYYY-Www``), in time order.
    labels : sequence of str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np
    from matplotlib.figure import Figure

    from stance.evaluation.aggregate import week_start

    x = np.array([week_start(g.group) for g in weeks], dtype="datetime64[D]")
    figure = Figure(figsize=(7.5, 5.2), dpi=120)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for label in labels:
        share = np.array([g.shares[label] for g in weeks])
        low = np.array([g.ci[label][0] for g in weeks])
        high = np.array([g.ci[label][1] for g in weeks])
        colour = COLOURS.get(label)
        top.plot(x, share, marker="o", markersize=3, color=colour, label=label)
        top.fill_between(x, low, high, color=colour, alpha=0.15, linewidth=0)
    top.set_ylim(0, 1)
    top.set_ylabel("share of statements (95% CI)")
    top.grid(alpha=0.3)
    top.legend(fontsize="small", ncols=len(labels), loc="upper left")
    top.set_title("Stance by ISO week")
    bottom.bar(x, [g.n for g in weeks], width=5, color="tab:blue", alpha=0.6)
    bottom.set_ylabel("statements")
    bottom.set_xlabel("week starting")
    bottom.grid(axis="y", alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def holders_figure(holders: Sequence, max_holders: int = MAX_HOLDERS):
    """Holders on the net-stance axis, (support - oppose) / n with its 95% CI, most supportive at the top.

    Parameters
    ----------
    holders : sequence of stance.evaluation.aggregate.GroupStance
        The holder view's groups.
    max_holders : int, default=40
        Only the holders with most statements are drawn (the title says so when some are left out).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np
    from matplotlib.figure import Figure

    shown = sorted(holders, key=lambda g: (-g.n, g.group))[:max_holders]
    shown.sort(key=lambda g: (-g.net, -g.n, g.group))
    figure = Figure(figsize=(7.5, 1.5 + 0.32 * max(len(shown), 1)), dpi=120)
    axes = figure.subplots()
    y = np.arange(len(shown))[::-1]
    net = np.array([g.net for g in shown])
    low = np.array([g.net_ci[0] for g in shown])
    high = np.array([g.net_ci[1] for g in shown])
    colours = ["tab:green" if v > 0 else "tab:red" if v < 0 else "tab:gray" for v in net]
    axes.errorbar(net, y, xerr=[net - low, high - net], fmt="none", ecolor="tab:gray", capsize=3)
    axes.scatter(net, y, c=colours, zorder=3)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(y, [f"{_short(g.group)} (n={g.n})" for g in shown])
    axes.set_xlim(-1.05, 1.05)
    axes.set_xlabel("net stance (support - oppose) / n, 95% CI\n-1: all oppose, +1: all support")
    axes.grid(axis="x", alpha=0.3)
    left_out = len(holders) - len(shown)
    axes.set_title("Holders" + (f" ({len(shown)} with most statements; {left_out} more in the table)"
                                if left_out else ""))
    figure.tight_layout()
    return figure


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
