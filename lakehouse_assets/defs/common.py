"""Pieces every asset shell shares: partitions, definition metadata, writes with their metadata."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl

from lakehouse_assets import plots, report
from lakehouse_assets.config import Config
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake, WriteResult

OWNERS = ["team:research"]
"""Who answers for every asset (the UI's owners)."""


@dataclass(frozen=True, eq=False)
class AssetShell:
    """An asset function and its decorator's arguments, waiting for its partitions.

    The partitions are the configured exchange's sessions from the configured first day,
    known only once a configuration is loaded; so the ``partitioned_*`` decorators record the
    asset here when its module is imported, and ``build_definitions`` makes it
    (:func:`build_asset`) from the configuration it is given.
    """

    fn: Callable[..., Any]
    arguments: Mapping[str, Any]
    multi: bool


def partitioned_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], AssetShell]:
    """``@dg.asset`` on trading-day partitions with a single-run backfill policy, made by
    :func:`build_asset`. ``table``: the catalogued table the asset writes when it is not
    the asset's name (``prediction_drift`` writes rows of ``drift_reports``)."""
    return lambda fn: AssetShell(fn, kwargs, multi=False)


def partitioned_multi_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], AssetShell]:
    """``@dg.multi_asset`` (of :func:`table_spec` specs) with the same partitions and backfill policy."""
    return lambda fn: AssetShell(fn, kwargs, multi=True)


def build_asset(shell: AssetShell, partitions: dg.PartitionsDefinition, lake: Lake) -> dg.AssetsDefinition:
    """The asset of ``shell`` on ``partitions``, each of its tables described for the UI
    (:func:`definition_metadata`), its code version a hash of the function's source.

    The single-run backfill policy makes a backfill of any range one run that processes
    the range vectorized over all symbols. Dagster 1.13 flags ``backfill_policy`` as beta;
    that one warning is silenced here, on purpose, so loading the code location stays
    warning-free.
    """
    version = code_version(shell.fn)
    arguments = dict(shell.arguments)
    if shell.multi:
        decorator = dg.multi_asset
        arguments["specs"] = [
            spec.replace_attributes(owners=OWNERS, code_version=version).merge_attributes(
                metadata=definition_metadata(spec.key.to_user_string(), lake)
            )
            for spec in arguments["specs"]
        ]
    else:
        decorator = dg.asset
        table = arguments.pop("table", arguments.get("name", shell.fn.__name__))
        arguments |= {
            "kinds": {"delta", "polars"},
            "owners": OWNERS,
            "code_version": version,
            "metadata": definition_metadata(table, lake),
        }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
        return decorator(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(), **arguments)(
            shell.fn
        )


def definition_metadata(table: str, lake: Lake) -> dict[str, object]:
    """What the UI's catalogue shows of the table an asset writes, from ``lake/catalog.py``:
    its columns (polars type, meaning, keys never null), its name and its Delta table's URI.
    Nothing for an asset that writes no catalogued table."""
    if table not in TABLES:
        return {}
    spec = TABLES[table]
    columns = [
        dg.TableColumn(
            name,
            str(dtype),
            description=spec.notes.get(name),
            constraints=dg.TableColumnConstraints(nullable=False) if name in spec.keys else None,
        )
        for name, dtype in spec.schema.items()
    ]
    return {
        "dagster/column_schema": dg.TableSchema(columns),
        "dagster/table_name": table,
        "dagster/uri": lake.uri(table),
    }


def code_version(fn: Callable[..., Any]) -> str:
    """A short hash of the asset function's source (decorator included): editing it marks the
    asset's materializations as of older code in the UI."""
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:12]


def table_spec(name: str, group: str, deps: list[str | dg.AssetDep]) -> dg.AssetSpec:
    """The spec of an asset that is one catalogued table (its description from the catalogue)."""
    return dg.AssetSpec(
        name, group_name=group, deps=deps, description=TABLES[name].description, kinds={"delta", "polars"}
    )


def read_history(
    lake: Lake,
    calendar: TradingCalendar,
    name: str,
    start: dt.date,
    end: dt.date,
    lookback: int,
    where: pl.Expr,
    columns: list[str],
) -> pl.DataFrame:
    """Rows of ``name`` from ``lookback`` sessions before ``start`` to ``end``; a symbol with
    fewer rows there (listed inside the window, or with gaps) is read from its first row, as
    a backfill reads it. What keeps a daily run's reads bounded (``docs/architecture.md``)."""
    from lakehouse_assets.core.features import short_of_history

    first = calendar.shift_sessions(start, -lookback)
    rows = lake.read(name, first, end, where=where, columns=columns)
    if short := short_of_history(rows, start, lookback):
        earlier = pl.col("symbol").is_in(short) & (pl.col("date") < first)
        rows = pl.concat([lake.read(name, None, first, where=earlier, columns=columns), rows])
    return rows


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def quarantine(lake: Lake, records: pl.DataFrame) -> int:
    """Add rejected records to ``quarantine`` (insert-only MERGE: a re-run adds nothing)."""
    if records.is_empty():
        lake.ensure("quarantine")  # an empty quarantine is a fact worth showing too
        return 0
    return lake.merge("quarantine", records.with_columns(quarantined_at=pl.lit(utc_now())), insert_only=True).inserted


def write_metadata(result: WriteResult, frame: pl.DataFrame, start: dt.date, end: dt.date) -> dict[str, object]:
    """The range's figures every materialization carries (totals of the whole range)."""
    symbols = sorted(frame.get_column("symbol").unique().to_list()) if "symbol" in frame.columns else []
    return {
        "range_rows": frame.height,
        "rows_inserted": result.inserted,
        "rows_updated": result.updated,
        "rows_deleted": result.deleted,
        "table_version": result.version,
        "date_range": f"{start}..{end}",
        "symbols": ", ".join(symbols) if symbols else "(none)",
    }


def materialized(
    context: dg.AssetExecutionContext,
    table: str,
    frame: pl.DataFrame,
    metadata: dict[str, object],
    check_results: list[dg.AssetCheckResult] | None = None,
    asset_key: str | None = None,
) -> dg.MaterializeResult:
    """The materialization of ``table`` (the asset ``asset_key`` of a multi-asset) with its
    metadata on the range's last partition, the one the UI shows as the latest.

    Dagster copies a range run's result metadata onto the event of every partition of the
    range, so a 3-day run showed each day the range's total as its ``dagster/row_count``,
    and a 14-year backfill stored its preview and plot 3,500 times. Here the last
    partition gets its own row count (rows of ``frame`` dated that day) and the range's
    figures (``write_metadata``: ``range_rows``, inserted/updated/deleted, previews,
    plots); the others get none. Not a count for each partition: Dagster validates the
    partition of every ``add_asset_metadata`` call against the whole range, so one call
    per partition costs the square of the range (10 s for 3,500 sessions).
    """
    from lakehouse_assets.lake.catalog import TABLES

    last = context.partition_key_range.end
    column = TABLES[table].date_column
    rows = frame.filter(pl.col(column) == dt.date.fromisoformat(last)).height if column in frame.columns else 0
    context.add_asset_metadata({"dagster/row_count": rows, **metadata}, asset_key=asset_key, partition_key=last)
    record_materialization(context, asset_key or table)
    return dg.MaterializeResult(asset_key=asset_key, check_results=check_results)


def preview(frame: pl.DataFrame, rows: int = 5) -> dict[str, object]:
    """The head of the written partition as a markdown table (metadata ``preview``)."""
    return {"preview": dg.MetadataValue.md(markdown_table(frame.head(rows)))}


def plot_metadata(
    context: dg.AssetExecutionContext, lake: Lake, config: Config, name: str, end: dt.date
) -> dict[str, object]:
    """Plot ``name`` of :data:`lakehouse_assets.report.PLOTS` over the window ending on ``end``, as an
    embedded markdown image (metadata ``plot``). A plot never fails its asset: when drawing it
    fails, the asset gets no plot and the log a warning."""
    began = time.perf_counter()
    try:
        title, png = report.plot(lake, config, name, end)
    except (Exception, pl.exceptions.PanicException) as exc:  # a polars panic is no Exception
        context.log.warning(f"plot {name} skipped: {type(exc).__name__}: {exc}")
        return {}
    context.log.debug(f"plot {name}: {len(png)} bytes in {time.perf_counter() - began:.2f}s")
    return {"plot": dg.MetadataValue.md(plots.markdown_image(title, png))}


def markdown_table(frame: pl.DataFrame, width: int = 40) -> str:
    """A markdown table of every row of ``frame``; cells cut to ``width`` characters, ``|`` escaped."""
    if frame.width == 0:
        return "(no columns)"

    def cell(value: object) -> str:
        if value is None:
            return ""
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        text = " ".join(text.split())  # a newline would end the table row
        text = text if len(text) <= width else text[: width - 1] + "…"
        return text.replace("\\", "\\\\").replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines) + ("\n\n(no rows)" if frame.is_empty() else "")


def finish(
    context: dg.AssetExecutionContext,
    lake: Lake,
    written: WriteResult,
    frame: pl.DataFrame,
    *,
    asset: str | None = None,
    where: pl.Expr | None = None,
    parts: Callable[[pl.DataFrame], dict[str, Any]] | None = None,
    metadata: dict[str, object] | None = None,
    plot: tuple[Config, str] | None = None,
) -> dg.MaterializeResult:
    """The end of every asset that writes a table, after its write: the materialization
    (:func:`materialized`) with the range's figures (:func:`write_metadata`), ``metadata``, a
    :func:`preview` of ``frame`` and ``plot`` (the config and a name of
    :data:`lakehouse_assets.report.PLOTS`), and the asset's check result.

    ``written``: the write of ``frame``, whose ``table`` is the table; ``asset``: the asset when
    it is another (``prediction_drift`` writes rows of ``drift_reports``). The check evaluates
    the parts the asset declares in ``defs/checks.py``: the schema and key checks, when declared,
    on the range as written, read back (``where``: the run's slice of it); and ``parts(rows)``
    on those rows, or on ``frame`` when the asset declares neither (drift: its parts judge what
    it computed, and a range's reports are not read back).
    """
    from lakehouse_assets.defs import checks as asset_checks
    from lakehouse_assets.defs.partitions import partition_dates

    start, end = partition_dates(context)
    asset = asset or written.table
    declared = {c.name for c in asset_checks.CHECKS[asset]}
    read_back = declared & {asset_checks.SCHEMA, asset_checks.KEYS}
    rows, outcomes = asset_checks.table_outcomes(lake, written.table, start, end, where) if read_back else (frame, {})
    outcomes = {name: o for name, o in outcomes.items() if name in declared} | (parts(rows) if parts else {})
    figures = {**write_metadata(written, frame, start, end), **(metadata or {}), **preview(frame)}
    if plot:
        figures |= plot_metadata(context, lake, *plot, end)
    results = asset_checks.results(asset, outcomes, checked=(start, end))
    return materialized(context, written.table, frame, figures, results, asset_key=asset)


def record_materialization(context: dg.AssetExecutionContext, asset: str) -> None:
    """Record in the lake's ``materializations`` table that ``asset`` materialized the run's
    partition range, once its writes succeeded (:func:`materialized` calls it, so every
    asset does, ``model_fits`` included).

    The lake, not the Dagster instance, then knows every partition its runs made, even one
    that wrote no row (a day with no sentiment landed, ``model_fits`` between refits), and
    which of two assets sharing a table made it: what ``lakehouse sync-ui`` reads. One row
    per asset and run, whatever the range's length, and none when the recorded ranges already
    cover every partition of the run: re-running a range or a part of it commits no version,
    as in every other table. The lake is the run's ``lakehouse`` resource, the one every
    asset writes through.
    """
    from lakehouse_assets.defs.partitions import partition_dates

    start, end = partition_dates(context)
    lake: Lake = context.resources.lakehouse.lake()
    about = (pl.col("asset") == asset) & (pl.col("range_start") <= end)
    recorded = lake.read("materializations", start, None, where=about, columns=["range_start", "range_end"])
    days = pl.DataFrame({"day": [dt.date.fromisoformat(key) for key in context.partition_keys]})
    inside = days.join_where(recorded, pl.col("day") >= pl.col("range_start"), pl.col("day") <= pl.col("range_end"))
    if inside.get_column("day").n_unique() == days.height:
        return
    run = context.run.run_id
    row = {"asset": asset, "range_start": start, "range_end": end, "run_id": run, "recorded_at": utc_now()}
    lake.merge("materializations", pl.DataFrame([row], schema=TABLES["materializations"].schema), insert_only=True)
