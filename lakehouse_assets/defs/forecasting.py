"""Gold assets: forecasts, their scores, the model registry and the model store.

One multi-asset, because the four are one day-by-day loop: the champion flag of day D's
forecasts is the registry's decision of the previous session, which needs the scores of
forecasts made before D. Processing a range in order inside one step keeps a backfill
identical to the same days run one at a time. The expensive part, per-symbol fitting,
fans out over the pool ``config/forecasting.yaml`` chooses (``pool``): the local process
pool of ``n_workers`` processes, or a Dask distributed cluster (``dask_scheduler``).
How far back each input is read is ``core.forecasting.history_window``'s to say.
"""

import datetime as dt
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator

import dagster as dg
import polars as pl

from lakehouse_assets.compute import map_tasks
from lakehouse_assets.config import Config
from lakehouse_assets.core import checks, drift, registry
from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import (
    finish,
    markdown_table,
    materialized,
    partitioned_multi_asset,
    table_spec,
    utc_now,
)
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake

SPECS = [
    table_spec("model_fits", "gold", ["ohlcv_daily", "features", "drift_reports"]),
    table_spec("forecasts", "gold", ["ohlcv_daily", "features", "model_fits", "drift_reports"]),
    table_spec("forecast_scores", "gold", ["forecasts", "ohlcv_daily", "market_regimes"]),
    table_spec("model_registry", "gold", ["forecast_scores"]),
    table_spec("error_replay_buffer", "gold", ["forecast_scores"]),
]
# the tables written by range (the fits are inserted by key), with their check's parts
# beyond the schema and keys of the written range
PARTS: dict[str, Callable[[pl.DataFrame], dict[str, checks.Outcome]]] = {
    "forecasts": lambda table: {"ordered_intervals": checks.ordered_intervals(table)},
    "forecast_scores": lambda table: {},
    "model_registry": lambda table: {
        "one_champion": checks.one_per_group(table, "champion", ["as_of", "symbol", "horizon"])
    },
    "error_replay_buffer": lambda table: {},
}


@partitioned_multi_asset(specs=SPECS, name="forecasting", check_specs=asset_checks.specs("model_fits", *PARTS))
def forecasting(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> Iterator[dg.MaterializeResult]:
    """Fit on refit dates, forecast every session, score what has come due, decide champions."""
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    settings, symbols, origins = config.forecasting, sources.universe(config), calendar.sessions(start, end)
    sessions = calendar.sessions(calendar.first_session, end)
    span = fc.history_window(sessions, origins, settings, config.score_window)
    bars, feature_rows, reports = _history(lake, span, symbols, settings.feature_columns, end)
    # drift asks for refits off the cadence: a flag on day F refits on the session after F
    next_session = functools.partial(calendar.shift_sessions, n=1)
    triggers = drift.refit_triggers(reports.filter(pl.col("as_of") < end), symbols, next_session)

    began = time.perf_counter()
    task_sessions = calendar.sessions(span.start, end)
    results = _run_symbols(context, lake, config, span, symbols, origins, task_sessions, bars, feature_rows, triggers)
    fits = [f for r in results for f in r.fits]
    new = _forecast_frame([row for r in results for row in r.rows], calendar)
    skipped = sum((Counter(r.skipped) for r in results), Counter())
    # the forecast rows as Python dicts (about 450,000 over a year at N = 100) are in
    # ``new`` now: not kept through the judging and the writes, where the step's memory peaks
    del results
    fitted = time.perf_counter()
    frames = _tables(_judge(lake, config, span, sessions, origins, symbols, new, bars, feature_rows, reports))
    # the judgement holds what the writes need: its inputs are not kept through the writes,
    # where the step's memory peaks
    del new, bars, feature_rows, reports
    decided = time.perf_counter()

    fit_frame, fit_figures = _insert_fits(lake, fits)
    written = {name: lake.sync_range(name, frame, start, end, {"symbol": symbols}) for name, frame in frames.items()}
    context.log.info(
        f"forecasts {start}..{end}: {frames['forecasts'].height} rows, {len(fits)} fits {fit_figures['fits_made']}; "
        f"fit+forecast {fitted - began:.1f}s, scores+registry {decided - fitted:.1f}s, "
        f"writes {time.perf_counter() - decided:.1f}s"
    )
    in_universe = pl.col("symbol").is_in(symbols)
    yield _fits_result(context, lake, fit_frame, fit_figures, in_universe, settings)
    figures = {
        "forecasts": {"fits_made": fit_figures["fits_made"], "skipped_symbol_days": dict(skipped)},
        "model_registry": _registry_figures(frames["model_registry"]),
        "error_replay_buffer": _replay_figures(frames["error_replay_buffer"]),
    }
    for name in list(frames):
        # each table's rows are let go once finished: ``finish`` reads the range back beside them
        frame = frames.pop(name)
        plot, metadata = (config, "forecast_vs_actual") if name == "forecasts" else None, figures.get(name)
        yield finish(
            context, lake, written[name], frame, where=in_universe, parts=PARTS[name], metadata=metadata, plot=plot
        )
        del frame


def _history(
    lake: Lake, span: fc.HistoryWindow, symbols: list[str], feature_columns: list[str], end: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The bars, features and drift reports of the symbols that the fits, forecasts and scores need."""
    in_universe = pl.col("symbol").is_in(symbols)
    bars = lake.read(
        "ohlcv_daily", span.start, end, where=in_universe, columns=["symbol", "date", "close", "log_return"]
    )
    features = lake.read("features", span.start, end, where=in_universe, columns=["symbol", "date", *feature_columns])
    # drift report rows about one of the symbols or about all of them
    about = pl.col("symbol").is_in([*symbols, drift.ALL_SYMBOLS])
    return bars, features, lake.read("drift_reports", span.reports_from, end, where=about)


def _run_symbols(
    context: dg.AssetExecutionContext,
    lake: Lake,
    config: Config,
    span: fc.HistoryWindow,
    symbols: list[str],
    origins: list[dt.date],
    sessions: list[dt.date],
    bars: pl.DataFrame,
    feature_rows: pl.DataFrame,
    triggers: dict[str, tuple[dt.date, ...]],
) -> list[fc.SymbolResult]:
    """Every symbol's forecasts and fits, on the configured pool when the work pays for it
    (``_work_seconds``). The stored states and the tasks carrying them are this function's
    own: they are freed when it returns, before the scores, the registry and the writes."""
    settings = config.forecasting
    states, calls, missing = _stored_fits(lake, span, symbols, origins, sessions, triggers, settings)
    tasks = fc.symbol_tasks(symbols, bars, feature_rows, origins, sessions, states, triggers, calls, settings)
    work = _work_seconds(missing, len(symbols) * len(origins))
    return map_tasks(fc.run_symbol, tasks, config.forecast_pool, context.log, _describe, work)


def _stored_fits(
    lake: Lake,
    span: fc.HistoryWindow,
    symbols: list[str],
    origins: list[dt.date],
    sessions: list[dt.date],
    triggers: dict[str, tuple[dt.date, ...]],
    settings: fc.ForecastSettings,
) -> tuple[dict[str, dict[tuple[str, dt.date], dict]], dict[str, dict[int, dict]], int]:
    """The stored fits the tasks carry, the classifier's earlier calls, and how many fits of
    the range's refit dates are not stored (the fits to make). The fits in force are read for
    every symbol (an ordinary day loads one per symbol and model); a symbol with some of them
    missing fits, so it also gets every fit since ``span.since`` (order selections, the
    classifier's previous refit) and, for the classifier's error replay, its calls before the
    range. On the measured day at N = 500, 7 symbols refit after a drift flag."""
    refits = fc.refits_in_force(sessions, origins, triggers, settings)
    states = _load_states(lake, symbols, span.first_refit, origins[-1], refits)
    missing = fc.missing_fits(states, refits, settings)
    if not missing:
        return states, {}, 0
    refitting = [s for s in symbols if s in missing]
    calls = {}
    if "direction_classifier" in settings.models:
        own = pl.col("symbol").is_in(refitting) & (pl.col("model") == "direction_classifier")
        columns = ["symbol", "date", "horizon", "prob_up"]
        before = own & (pl.col("date") < origins[0])
        calls = fc.classifier_calls(lake.read("forecasts", span.start, span.previous or span.start, before, columns))
    states.update(_load_states(lake, refitting, span.since, origins[-1]))
    return states, calls, sum(missing.values())


def _load_states(
    lake: Lake,
    symbols: list[str],
    since: dt.date,
    end: dt.date,
    refits: dict[str, set[dt.date]] | None = None,
) -> dict[str, dict[tuple[str, dt.date], dict]]:
    """Stored fits of the symbols with fit dates in ``since..end`` (or only those of ``refits``:
    per symbol, its fit dates), unpickled; only the key and state columns are read."""
    where = pl.col("symbol").is_in(symbols)
    wanted: set[tuple[str, dt.date]] | None = None
    if refits is not None:
        # the read takes every fit of the symbols and fit dates named, the exact pairs are picked
        # below: an OR of one (fit date, symbols) term per date, as this read once was, made
        # polars' scan of the states peak 3,600 MiB above what the step held when re-running a year
        # at N = 100 (the step's peak, 4,678 MiB); two ``is_in`` peak as the plain read does
        wanted = {(symbol, day) for symbol, dates in refits.items() for day in dates}
        where = pl.col("symbol").is_in(list(refits)) & pl.col("fit_date").is_in(sorted({d for _, d in wanted}))
    stored = lake.read("model_fits", since, end, where=where, columns=["symbol", "model", "fit_date", "state"])
    states: dict[str, dict[tuple[str, dt.date], dict]] = {s: {} for s in symbols}
    for symbol, model, fit_date, blob in stored.iter_rows():
        if wanted is None or (symbol, fit_date) in wanted:
            states[symbol][(model, fit_date)] = fc.load_state(model, blob)
    return states


def _work_seconds(fits: int, symbol_days: int) -> float:
    """The tasks' seconds in one process, estimated from their fits (0.04 s each: a fit day's
    mean at N = 500, order searches included) and their symbol-days of forecasts from a fit
    (0.006 s: filtering, GARCH, SSA, the compiled classifier; an ordinary day at N = 500 spent
    2.4 s of CPU on the 493 symbols that did not refit, at a load of 5-6 on 2 cores, 5.3 s
    before white noise skipped its filter and GARCH its results objects). It decides whether
    a local pool starts (``compute.local_workers``): an ordinary day (~5 s at N = 500, 7 of
    whose symbols drift refitted) runs in this process, a fit day (~125 s) or a week's
    backfill on the pool."""
    return 0.04 * fits + 0.006 * symbol_days


def _describe(task: fc.SymbolTask, result: fc.SymbolResult) -> str:
    return f"{task.symbol} {'/'.join(task.models)}: {len(result.rows)} rows, {len(result.fits)} fits"


def _forecast_frame(rows: list[dict], calendar: TradingCalendar) -> pl.DataFrame:
    schema = {k: v for k, v in TABLES["forecasts"].schema.items() if k not in ("target_date", "is_champion")}
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    pairs = frame.select("date", "horizon").unique()
    targets = pairs.with_columns(
        target_date=pl.Series([calendar.shift_sessions(d, h) for d, h in pairs.iter_rows()], dtype=pl.Date)
    )
    return frame.join(targets, on=["date", "horizon"], how="left")


def _judge(
    lake: Lake,
    config: Config,
    span: fc.HistoryWindow,
    sessions: list[dt.date],
    origins: list[dt.date],
    symbols: list[str],
    new: pl.DataFrame,
    bars: pl.DataFrame,
    feature_rows: pl.DataFrame,
    reports: pl.DataFrame,
) -> registry.Judgement:
    """The registry's day loop over the range, with the stored forecasts, regimes and decision it reads."""
    in_universe = pl.col("symbol").is_in(symbols)
    regimes = ["symbol", "date", "market_regime"]
    before, champions = span.previous, in_universe & pl.col("champion")
    return registry.judge_range(
        new,
        earlier=lake.read("forecasts", span.forecasts_from, before, where=in_universe),
        closes=bars,
        regimes=lake.read("market_regimes", span.forecasts_from, origins[-1], where=in_universe, columns=regimes),
        features=feature_rows,
        previous_decisions=lake.read("model_registry", before, before, champions) if before else pl.DataFrame(),
        sessions=sessions,
        origins=origins,
        symbols=symbols,
        sectors={s: config.sectors.sector(s) for s in symbols},
        drift=drift.drift_evidence(reports, symbols),
        settings=config.forecasting,
        score_window=config.score_window,
        rules=config.gate,
    )


def _tables(judged: registry.Judgement) -> dict[str, pl.DataFrame]:
    """The judgement as the rows of the tables written by range, in their catalogued columns."""
    made = (judged.forecasts, judged.scores, judged.decisions, judged.replay)
    return {name: frame.select(list(TABLES[name].schema)) for name, frame in zip(PARTS, made, strict=True)}


def _insert_fits(lake: Lake, fits: list[fc.Fit]) -> tuple[pl.DataFrame, dict[str, object]]:
    """The new fits as ``model_fits`` rows, inserted (a stored key is kept), and their figures."""
    now = utc_now()
    frame = pl.DataFrame(
        [
            {
                "symbol": f.symbol,
                "model": f.model,
                "fit_date": f.fit_date,
                "n_obs": f.n_obs,
                "fit_seconds": f.seconds,
                "summary": f.summary(),
                "state": f.blob(),
                "fitted_at": now,
            }
            for f in fits
        ],
        schema=TABLES["model_fits"].schema,
    )
    inserted = lake.merge("model_fits", frame, insert_only=True).inserted if fits else 0
    lake.ensure("model_fits")
    return frame, {
        "fits_made": dict(Counter(f.model for f in fits)),
        "fit_seconds": round(sum(f.seconds for f in fits), 2),
        "rows_inserted": inserted,
    }


def _fits_result(
    context: dg.AssetExecutionContext,
    lake: Lake,
    frame: pl.DataFrame,
    metadata: dict[str, object],
    where: pl.Expr,
    settings: fc.ForecastSettings,
) -> dg.MaterializeResult:
    """``model_fits``' materialization (the fits this run made) and its check."""
    start, end = partition_dates(context)
    results = asset_checks.results("model_fits", fits_outcomes(lake, start, end, where, settings), checked=(start, end))
    return materialized(context, "model_fits", frame, metadata, check_results=results, asset_key="model_fits")


def fits_outcomes(
    lake: Lake, start: dt.date, end: dt.date, where: pl.Expr, settings: fc.ForecastSettings
) -> dict[str, checks.Outcome]:
    """The parts of ``model_fits``' check on the stored fits dated in the range, read back
    without their pickled states (the classifier's are ~23 KB each, ~200 KB in older lakes: a
    backfill's would be gigabytes), so ``state`` is the one column whose type is not checked."""
    spec = TABLES["model_fits"]
    schema = {c: t for c, t in spec.schema.items() if c != "state"}
    table = lake.read("model_fits", start, end, where=where, columns=list(schema))
    bounds = settings.arima_max_p, settings.arima_max_q, settings.fit_window
    return {
        asset_checks.SCHEMA: checks.schema_and_nulls(table, schema, spec.keys),
        asset_checks.KEYS: checks.unique_keys(table, spec.keys),
        "fits_within_bounds": checks.fits_within_bounds(table, fc.MODELS, *bounds),
    }


def _registry_figures(decisions: pl.DataFrame) -> dict[str, object]:
    """Approvals of the range and the champions of its last day."""
    champions = decisions.filter(pl.col("champion") & (pl.col("as_of") == pl.col("as_of").max()))
    champions = champions.select("symbol", "horizon", "model").sort("symbol", "horizon", "model")
    return {
        "approved": decisions.filter(pl.col("approved") & (pl.col("recommendation") == "PROMOTE")).height,
        "champions": dg.MetadataValue.md(markdown_table(champions)),
    }


def _replay_figures(replay: pl.DataFrame) -> dict[str, object]:
    return {"mean_confidence": round(float(replay["confidence"].mean()), 4) if replay.height else None}  # type: ignore[arg-type]
