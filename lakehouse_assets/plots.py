"""Plots of the lake's tables as PNG bytes: pure functions of polars frames.

Each function takes the rows it draws (already read and windowed by the caller, see
:mod:`lakehouse_assets.report`) and returns a small PNG (800 x 320 px: 8 x 3.2 in at
100 dpi) with dates on the x axis. An empty input gives a placeholder image saying
"no data yet" instead of an exception, so a young lake still renders.

Matplotlib is imported inside the functions, through its object-oriented API (a
``Figure`` with the Agg canvas, never ``pyplot``): no display, no global state shared
between threads, and loading the Dagster code location does not pay for the import.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 3.2, 100
NO_DATA = "no data yet"

# one color per regime label, for the timeline's bands (the unlabelled warm-up stays white)
REGIME_COLORS = {
    "normal": "#b7e1b5",
    "recovery": "#bcd7f0",
    "high_volatility": "#f6d58e",
    "crash": "#f19c99",
}


def forecast_vs_actual(forecasts: pl.DataFrame, bars: pl.DataFrame, symbol: str) -> bytes:
    """The champion's 1-step forecasts of ``symbol`` against what happened.

    ``forecasts``: rows of ``forecasts`` (``symbol, target_date, point, lower_80, upper_80,
    lower_95, upper_95``, plus ``model``) already restricted to the champion and horizon 1;
    ``bars``: ``ohlcv_daily`` rows (``symbol, date, log_return``). Plotted by target date:
    the point forecast, its 80% and 95% normal intervals as bands, and the realised log
    return (daily, not annualized) where the target date has a close. The title gives
    the share of realised returns inside each band.
    """
    title = f"{symbol}: champion 1-day forecast vs actual log return"
    own = forecasts.filter(pl.col("symbol") == symbol).sort("target_date")
    if own.is_empty():
        return placeholder(title)
    actual = bars.filter(pl.col("symbol") == symbol).select(target_date="date", actual="log_return")
    frame = own.join(actual, on="target_date", how="left")
    fig, ax = _figure()
    x = frame["target_date"].to_list()
    ax.fill_between(x, frame["lower_95"], frame["upper_95"], color="#c6dbef", step="mid", label="95% interval")
    ax.fill_between(x, frame["lower_80"], frame["upper_80"], color="#6baed6", step="mid", label="80% interval")
    ax.plot(x, frame["point"], color="#08306b", linewidth=1.0, label="forecast")
    seen = frame.filter(pl.col("actual").is_not_null())
    if seen.height:
        inside = {
            level: seen.filter(pl.col("actual").is_between(pl.col(f"lower_{level}"), pl.col(f"upper_{level}"))).height
            / seen.height
            for level in (80, 95)
        }
        ax.scatter(seen["target_date"].to_list(), seen["actual"], s=6, color="#d62728", zorder=3, label="actual")
        title += f" (inside 80%: {inside[80]:.0%}, 95%: {inside[95]:.0%})"
    models = sorted(set(frame["model"].drop_nulls())) if "model" in frame.columns else []
    ax.set_xlabel("target date" + (f" (champion: {', '.join(models)})" if models else ""), fontsize=8)
    ax.axhline(0.0, color="#888888", linewidth=0.5)
    ax.set_ylabel("log return")
    return _finish(fig, ax, title, legend=True)


def strategy_weights(weights: pl.DataFrame, regime: str = "normal") -> bytes:
    """Each strategy's scoring weight over time, in one regime.

    ``weights``: ``strategy_weights`` rows (``as_of, strategy_type, regime, weight``). The
    default regime, ``normal``, has a regime adjustment of 1, so its weight is the base
    weight times the variance adjustment, the part that learns from the ledger (the
    other regimes scale it by a constant). Without rows of that regime, the mean weight
    over regimes is shown.
    """
    title = f"Strategy weights (regime {regime}: base x variance adjustment)"
    chosen = weights.filter(pl.col("regime") == regime)
    if chosen.is_empty():
        title = "Strategy weights (mean over regimes)"
        chosen = weights.group_by("as_of", "strategy_type").agg(pl.col("weight").mean())
    if chosen.is_empty():
        return placeholder("Strategy weights")
    fig, ax = _figure()
    for (strategy,), own in sorted(chosen.sort("as_of").group_by("strategy_type"), key=lambda g: str(g[0][0])):
        ax.step(own["as_of"].to_list(), own["weight"], where="post", linewidth=1.2, label=str(strategy))
    ax.set_ylabel("weight")
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, title, legend=True)


def drift_statistics(reports: pl.DataFrame, kind: str = "feature") -> bytes:
    """The day's largest drift statistic of one ``kind`` against the threshold.

    ``reports``: ``drift_reports`` rows (``as_of, kind, statistic, threshold, drifted``).
    Per day, the maximum statistic over names and symbols (KS statistics for ``feature``
    and ``prediction``), the threshold as a dashed line, and the days on which any test
    of the kind drifted (statistic over the threshold *and* a significant p-value) as
    red crosses.
    """
    title = f"{kind.capitalize()} drift: largest daily statistic"
    own = reports.filter((pl.col("kind") == kind) & pl.col("statistic").is_not_null())
    if own.is_empty():
        return placeholder(title)
    daily = (
        own.group_by("as_of")
        .agg(pl.col("statistic").max(), pl.col("threshold").max(), pl.col("drifted").any())
        .sort("as_of")
    )
    fig, ax = _figure()
    x = daily["as_of"].to_list()
    ax.plot(x, daily["statistic"], color="#1f77b4", linewidth=1.0, label="max statistic")
    ax.step(x, daily["threshold"], where="post", color="#555555", linestyle="--", linewidth=1.0, label="threshold")
    drifted = daily.filter(pl.col("drifted"))
    if drifted.height:
        ax.scatter(
            drifted["as_of"].to_list(),
            drifted["statistic"],
            marker="x",
            color="#d62728",
            s=18,
            zorder=3,
            label="drifted",
        )
    title += f" ({drifted.height} of {daily.height} days drifted)"
    ax.set_ylabel("statistic")
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, title, legend=True)


def equity_curves(metrics: pl.DataFrame, since: dt.date | None = None) -> bytes:
    """P&L per strategy marked to market at each close, net of costs.

    ``metrics``: ``backtest_metrics`` rows (``as_of, strategy_type, total_pnl`` realised by
    then, ``unrealized_pnl`` of the positions still open, marked at that close; currency).
    Each curve is realised + unrealised P&L, from 0 on its first day shown, so open losses
    show when they happen, not on the exit date. Every strategy together (``all``) is the
    thick black line. ``since``: the first day the rows cover (for the title).
    """
    title = "Equity curves: P&L marked to market at each close" + (f" since {since}" if since else "")
    done = metrics.filter(pl.col("total_pnl").is_not_null()).with_columns(
        marked=pl.col("total_pnl") + pl.col("unrealized_pnl").fill_null(0.0)
    )
    if done.is_empty():
        return placeholder(title)
    fig, ax = _figure()
    for (strategy,), own in sorted(done.group_by("strategy_type"), key=lambda g: (g[0][0] == "all", str(g[0][0]))):
        own = own.sort("as_of")
        curve = own["marked"] - own["marked"][0]
        if strategy == "all":
            ax.plot(own["as_of"].to_list(), curve, color="black", linewidth=2, label="all")
        else:
            ax.plot(own["as_of"].to_list(), curve, linewidth=1.0, label=strategy)
    ax.axhline(0.0, color="#888888", linewidth=0.5)
    ax.set_ylabel("P&L, marked")
    return _finish(fig, ax, title, legend=True)


def regime_timeline(regimes: pl.DataFrame, bars: pl.DataFrame, symbol: str) -> bytes:
    """The regime of ``symbol`` day by day as colored bands, under its close.

    ``regimes``: ``market_regimes`` rows (``symbol, date, regime``); ``bars``:
    ``ohlcv_daily`` rows (``symbol, date, close``), optional (may be empty). A band spans
    from a session to the next one; days without a label (the warm-up) stay white.
    """
    title = f"{symbol}: market regime"
    own = regimes.filter(pl.col("symbol") == symbol).sort("date")
    if own.is_empty():
        return placeholder(title)
    fig, ax = _figure()
    days = own["date"].to_list()
    labels = own["regime"].to_list()
    ends = [*days[1:], days[-1] + dt.timedelta(days=1)]
    seen: set[str] = set()
    i = 0
    while i < len(days):  # one band per run of equal labels
        j = i
        while j + 1 < len(days) and labels[j + 1] == labels[i]:
            j += 1
        label = labels[i]
        if label is not None:
            color = REGIME_COLORS.get(label, "#dddddd")
            ax.axvspan(days[i], ends[j], color=color, linewidth=0, label=None if label in seen else label)
            seen.add(label)
        i = j + 1
    closes = bars.filter(pl.col("symbol") == symbol).sort("date") if not bars.is_empty() else bars
    if not closes.is_empty():
        ax.plot(closes["date"].to_list(), closes["close"], color="black", linewidth=1.0, label="close")
        ax.set_ylabel("close")
    else:
        ax.set_yticks([])
    labelled = own.filter(pl.col("regime").is_not_null()).height
    if not labelled:
        title += " (no labels yet: warm-up)"
    ax.set_xlim(days[0], ends[-1])
    return _finish(fig, ax, title, legend=True)


def placeholder(title: str, message: str = NO_DATA) -> bytes:
    """A small image that says there is nothing to draw yet."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN / 2), dpi=DPI)
    fig.text(0.5, 0.65, title, ha="center", va="center", fontsize=11, weight="bold")
    fig.text(0.5, 0.35, message, ha="center", va="center", fontsize=10, color="#777777")
    return _png(fig)


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>`` or a markdown image."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(title: str, png: bytes) -> str:
    """A markdown image with the PNG embedded (what the Dagster UI renders in metadata)."""
    return f"![{title}]({data_uri(png)})"


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    return fig, fig.subplots()


def _finish(fig: Figure, ax: Axes, title: str, legend: bool = False) -> bytes:
    import matplotlib.dates as mdates

    ax.set_title(title, fontsize=10)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(labelsize=8)
    ax.yaxis.label.set_fontsize(9)
    ax.grid(True, axis="y", color="#eeeeee", linewidth=0.6)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
