"""The lake as of a day, on one static HTML page: the plots and the key tables.

:func:`build` returns a self-contained page (inline CSS, images as ``data:`` URIs, no
script and no external resource) for ``lakehouse report``. :func:`plot` reads what one
plot needs from the lake, over a bounded window ending on a day, and renders it; the
asset shells use it for the images in their Dagster metadata.

"As of DATE" means rows whose date (``as_of`` or ``date``) is on or before DATE; each
table shows its latest such day. The tables are the named queries of ``sql/``, run by
:func:`lakehouse_assets.lake.duck.named_query` over the lake cut at DATE, so that the page
and ``lakehouse query -f sql/NAME.sql`` cannot disagree. Open alerts are the ones about a
partition that starts on or before DATE and are open now (not acknowledged, or
acknowledged and expired).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable

import polars as pl

from lakehouse_assets import plots
from lakehouse_assets.config import Config
from lakehouse_assets.core.alerts import is_open
from lakehouse_assets.core.regimes import REGIMES
from lakehouse_assets.lake import duck
from lakehouse_assets.lake.delta import Lake

WINDOW = dt.timedelta(days=365)  # what a plot reads: about 250 sessions up to the day
NOT_MATERIALIZED = "not materialized yet"
MAX_ALERTS = 50


# --- plots -----------------------------------------------------------------------------


def _forecast(lake: Lake, config: Config, end: dt.date) -> bytes:
    index = config.universe.index_symbol
    wanted = (pl.col("symbol") == index) & (pl.col("horizon") == 1) & pl.col("is_champion")
    columns = ["symbol", "model", "target_date", "point", "lower_80", "upper_80", "lower_95", "upper_95"]
    forecasts = lake.read("forecasts", end - WINDOW, end, where=wanted, columns=columns)
    bars = lake.read(
        "ohlcv_daily", end - WINDOW, end, where=pl.col("symbol") == index, columns=["symbol", "date", "log_return"]
    )
    return plots.forecast_vs_actual(forecasts, bars, index)


def _weights(lake: Lake, config: Config, end: dt.date) -> bytes:
    columns = ["as_of", "strategy_type", "regime", "weight"]
    return plots.strategy_weights(lake.read("strategy_weights", end - WINDOW, end, columns=columns))


def _drift(kind: str) -> Callable[[Lake, Config, dt.date], bytes]:
    def render(lake: Lake, config: Config, end: dt.date) -> bytes:
        columns = ["as_of", "kind", "statistic", "threshold", "drifted"]
        reports = lake.read("drift_reports", end - WINDOW, end, where=pl.col("kind") == kind, columns=columns)
        return plots.drift_statistics(reports, kind)

    return render


def _equity(lake: Lake, config: Config, end: dt.date) -> bytes:
    start = end - WINDOW
    columns = ["as_of", "strategy_type", "total_pnl", "unrealized_pnl"]
    return plots.equity_curves(lake.read("backtest_metrics", start, end, columns=columns), since=start)


def _regimes(lake: Lake, config: Config, end: dt.date) -> bytes:
    index = config.universe.index_symbol
    own = pl.col("symbol") == index
    regimes = lake.read("market_regimes", end - WINDOW, end, where=own, columns=["symbol", "date", "regime"])
    bars = lake.read("ohlcv_daily", end - WINDOW, end, where=own, columns=["symbol", "date", "close"])
    return plots.regime_timeline(regimes, bars, index)


# name -> (title, renderer); the first five are the report's, in its order
PLOTS: dict[str, tuple[str, Callable[[Lake, Config, dt.date], bytes]]] = {
    "forecast_vs_actual": ("Forecast vs actual (index, champion, 1 day)", _forecast),
    "strategy_weights": ("Strategy weights over time", _weights),
    "feature_drift": ("Feature drift against the threshold", _drift("feature")),
    "equity_curves": ("Equity curves per strategy", _equity),
    "regime_timeline": ("Regime timeline of the index", _regimes),
    "prediction_drift": ("Prediction drift against the threshold", _drift("prediction")),
}
REPORT_PLOTS = ("forecast_vs_actual", "strategy_weights", "feature_drift", "equity_curves", "regime_timeline")


def plot(lake: Lake, config: Config, name: str, end: dt.date) -> tuple[str, bytes]:
    """The title and PNG of plot ``name`` (a key of :data:`PLOTS`) over the window ending on ``end``."""
    title, render = PLOTS[name]
    return title, render(lake, config, end)


# --- tables: the named queries of sql/, as ``lakehouse query -f`` answers them on the day ---


def _named(lake: Lake, name: str, as_of: dt.date, params: dict[str, str] | None = None) -> pl.DataFrame | None:
    """``sql/NAME.sql`` over the lake cut at ``as_of`` (its "latest day" is the latest on or
    before it); None when a table it reads has not been written yet."""
    try:
        return duck.named_query(lake, name, params, through=as_of)
    except duck.TableNotCreated:
        return None


def latest_weights(lake: Lake, as_of: dt.date) -> pl.DataFrame | None:
    """``sql/strategy_weights_latest.sql`` laid out to be read at a glance: one row per
    strategy, one column per regime (its weight), the regimes in their catalogue order."""
    frame = _named(lake, "strategy_weights_latest", as_of)
    if frame is None or frame.is_empty():
        return frame
    seen = frame["regime"].unique().to_list()
    regimes = [r for r in REGIMES if r in seen] + sorted(r for r in seen if r not in REGIMES)
    return frame.pivot(on="regime", on_columns=regimes, index=["as_of", "strategy_type"], values="weight")


def open_alerts(lake: Lake, as_of: dt.date, now: dt.datetime | None = None) -> pl.DataFrame | None:
    """Alerts open at ``now`` (default: now) about data up to ``as_of``, newest first.

    An alert's own ``as_of`` is the day it fired, so a backfill's alerts are dated today:
    the day that counts is the first of its ``partition`` (a day or ``start..end``);
    alerts without one (e.g. a failed run with no partition) are always shown.
    """
    if not lake.exists("alerts"):
        return None
    now = now or dt.datetime.now(dt.UTC)
    first = pl.col("partition").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    frame = lake.read("alerts").filter(is_open(now) & (first.is_null() | (first <= as_of)))
    columns = ["alert_id", "fired_at", "as_of", "severity", "rule", "asset", "partition", "message", "ack_until"]
    return frame.sort("fired_at", descending=True).select(columns)


TABLES = (  # anchor, heading
    ("weights", "Latest strategy weights"),
    ("variance", "Variance by strategy and regime"),
    ("backtest", "Backtest summary"),
    ("champions", "Champion models"),
    ("alerts", "Open alerts"),
)


# --- the page --------------------------------------------------------------------------

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.meta { color: #666; font-size: 0.85rem; }
nav a { margin-right: 0.8rem; font-size: 0.9rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: #888; font-style: italic; }
"""


def build(lake: Lake, config: Config, as_of: dt.date, now: dt.datetime | None = None) -> str:
    """The report page for ``as_of``: the five plots and the key tables, as one HTML string."""
    now = now or dt.datetime.now(dt.UTC)
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Lakehouse report as of {e(as_of.isoformat())}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Lakehouse report as of {e(as_of.isoformat())}</h1>",
        f'<p class="meta">lake {e(lake.root)} &middot; generated {e(now.strftime("%Y-%m-%d %H:%M"))} UTC '
        f"&middot; plots cover the year up to {e(as_of.isoformat())}</p>",
        "<nav>"
        + "".join(f'<a href="#{e(key)}">{e(title)}</a>' for key, title in TABLES)
        + '<a href="#plots">Plots</a></nav>',
    ]
    readers: dict[str, Callable[[], pl.DataFrame | None]] = {
        "weights": lambda: latest_weights(lake, as_of),
        "variance": lambda: _named(lake, "variance_by_strategy_regime", as_of),
        "backtest": lambda: _named(lake, "backtest_summary", as_of),
        "champions": lambda: _named(lake, "champion_models", as_of, {"as_of": as_of.isoformat()}),
        "alerts": lambda: open_alerts(lake, as_of, now),
    }
    for key, title in TABLES:
        parts.append(f'<h2 id="{e(key)}">{e(title)}</h2>')
        try:
            frame = readers[key]()
        except (Exception, pl.exceptions.PanicException) as exc:  # one broken table must not cost the page
            parts.append(f'<p class="empty">could not read: {e(type(exc).__name__)}: {e(str(exc))}</p>')
            continue
        if frame is not None and not frame.is_empty() and "as_of" in frame.columns and key != "alerts":
            parts.append(f'<p class="meta">as of {e(str(frame["as_of"].max()))}</p>')
        parts.append(_table_html(frame, as_of, limit=MAX_ALERTS if key == "alerts" else None))
    parts.append('<h2 id="plots">Plots</h2>')
    for name in REPORT_PLOTS:
        title = PLOTS[name][0]
        try:
            _, png = plot(lake, config, name, as_of)
        except (Exception, pl.exceptions.PanicException) as exc:
            png = plots.placeholder(title, f"could not draw: {type(exc).__name__}")
        parts.append(
            f'<figure id="{e(name)}"><img alt="{e(title)}" src="{plots.data_uri(png)}">'
            f"<figcaption>{e(title)}</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table_html(frame: pl.DataFrame | None, as_of: dt.date, limit: int | None = None) -> str:
    e = html.escape
    if frame is None:
        return f'<p class="empty">{NOT_MATERIALIZED}</p>'
    if frame.is_empty():
        return f'<p class="empty">no rows on or before {e(as_of.isoformat())}</p>'
    shown = frame.head(limit) if limit else frame
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    lines = ["<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in frame.columns) + "</tr></thead><tbody>"]
    for row in shown.iter_rows(named=True):
        cells = (
            f'<td class="num">{e(_format(v))}</td>' if c in numeric else f"<td>{e(_format(v))}</td>"
            for c, v in row.items()
        )
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    if shown.height < frame.height:
        lines.append(f'<p class="meta">{frame.height - shown.height} more not shown</p>')
    return "\n".join(lines)


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
