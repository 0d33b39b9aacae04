"""Gold assets: forecasts, their scores, the model registry and the model store.

One multi-asset, because the four are one day-by-day loop: the champion flag of day D's
forecasts is the registry's decision of the previous session, which needs the scores of
forecasts made before D. Processing a range in order inside one step keeps a backfill
identical to the same days run one at a time. The expensive part, per-symbol fitting,
fans out over the pool ``config/forecasting.yaml`` chooses (``pool``): the local process
pool of ``n_workers`` processes, or a Dask distributed cluster (``dask_scheduler``).
"""

import dataclasses
import datetime as dt
import pickle
import time
from collections import Counter

import dagster as dg
import numpy as np
import polars as pl

from lakehouse_assets.compute import map_tasks
from lakehouse_assets.config import Config
from lakehouse_assets.core import checks, drift, registry, scoring
from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import (
    markdown_table,
    materialized,
    partitioned_multi_asset,
    plot_metadata,
    preview,
    table_spec,
    utc_now,
    write_metadata,
)
from lakehouse_assets.defs.drift import drift_reports
from lakehouse_assets.defs.features import features, market_regimes
from lakehouse_assets.defs.ingest import ohlcv_daily
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake

SPECS = [
    table_spec("model_fits", "gold", [ohlcv_daily, features, drift_reports]),
    table_spec("forecasts", "gold", [ohlcv_daily, features, "model_fits", drift_reports]),
    table_spec("forecast_scores", "gold", ["forecasts", ohlcv_daily, market_regimes]),
    table_spec("model_registry", "gold", ["forecast_scores"]),
    table_spec("error_replay_buffer", "gold", ["forecast_scores"]),
]


CHECKED = ("forecasts", "forecast_scores", "model_registry", "error_replay_buffer")


@partitioned_multi_asset(specs=SPECS, name="forecasting", check_specs=asset_checks.specs(*CHECKED))
def forecasting(context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource):  # type: ignore[no-untyped-def]
    """Fit on refit dates, forecast every session, score what has come due, decide champions."""
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    settings = config.forecasting
    symbols = sources.universe(config)
    origins = calendar.sessions(start, end)

    all_sessions = calendar.sessions(calendar.first_session, end)
    first_refit = fc.period_start(all_sessions, origins[0], settings.cadence)
    first_selection = fc.period_start(all_sessions, first_refit, settings.order_selection)
    # the rollback rule of the classifier looks at the refit before the first one
    previous_refit = fc.period_start(all_sessions, calendar.shift_sessions(first_refit, -1), settings.cadence)
    since = min(first_selection, previous_refit)
    # bars for the windows of the earliest fit, and for scoring forecasts made before the range
    # (the targets the range's days judge and their own windows: _score_and_decide)
    history_start = min(
        calendar.shift_sessions(since, -settings.fit_window),
        calendar.shift_sessions(origins[0], -(2 * config.score_window + max(settings.horizons))),
    )
    in_universe = pl.col("symbol").is_in(symbols)
    bars = lake.read(
        "ohlcv_daily", history_start, end, where=in_universe, columns=["symbol", "date", "close", "log_return"]
    )
    feature_names = sorted(set(settings.classifier_features) | set(settings.sarimax_exog))
    feature_rows = lake.read(
        "features", history_start, end, where=in_universe, columns=["symbol", "date", *feature_names]
    )
    sessions = calendar.sessions(history_start, end)
    # drift asks for refits off the cadence: a flag on day F refits on the session after F
    reports = lake.read("drift_reports", calendar.shift_sessions(since, -1), end, where=_about(symbols))
    triggers = drift.refit_triggers(
        reports.filter(pl.col("as_of") < end), symbols, lambda day: calendar.shift_sessions(day, 1)
    )
    # the fits of the range's own refit dates; when every one is stored nothing is fitted, and
    # the older fits (order selections, the classifier's previous refit) and the classifier's
    # earlier calls (its error replay) are never read: a day mid-month loads one week of fits
    states = _load_states(lake, symbols, first_refit, end)
    refits = {s: {fc.refit_date(sessions, day, settings.cadence, triggers[s]) for day in origins} for s in symbols}
    fits_stored = all((m, r) in states[s] for s in symbols for r in refits[s] for m in settings.models)
    if not fits_stored:
        states = _load_states(lake, symbols, since, end)

    began = time.perf_counter()
    groups = [g for g in (tuple(m for m in group if m in settings.models) for group in fc.MODEL_GROUPS) if g]
    calls: dict[str, dict[int, dict]] = {s: {} for s in symbols}
    if not fits_stored and "direction_classifier" in settings.models:
        # the classifier's earlier calls, for its error replay
        earlier_calls = lake.read(
            "forecasts",
            history_start,
            calendar.previous_session(origins[0]) or history_start,
            where=in_universe & (pl.col("model") == "direction_classifier") & (pl.col("date") < origins[0]),
            columns=["symbol", "date", "horizon", "prob_up"],
        )
        for (symbol, horizon), part in earlier_calls.partition_by(["symbol", "horizon"], as_dict=True).items():
            days = part.get_column("date").to_numpy().astype("datetime64[D]")
            calls[str(symbol)][int(horizon)] = dict(zip(days, part.get_column("prob_up").to_list(), strict=True))
    # one frame per symbol (filtering the whole frame once per symbol is quadratic in N)
    bars_of = bars.partition_by("symbol", as_dict=True)
    features_of = feature_rows.partition_by("symbol", as_dict=True)
    per_symbol = [
        _task(
            s,
            bars_of.get((s,), bars.clear()),
            features_of.get((s,), feature_rows.clear()),
            feature_names,
            origins,
            sessions,
            states,
            triggers[s],
            calls[s],
            settings,
        )
        for s in symbols
    ]
    # each task carries the stored fits of its own models only (the classifier's are ~200 KB)
    tasks = [
        dataclasses.replace(task, models=group, states={k: v for k, v in task.states.items() if k[0] in group})
        for task in per_symbol
        for group in groups
    ]
    pool = config.forecast_pool
    if fits_stored and pool.kind == "local" and len(symbols) * len(origins) <= 600:
        # nothing to fit: ~13 ms of filtering per symbol-day, less than starting the workers (~5 s)
        pool = dataclasses.replace(pool, workers=1)
    results = map_tasks(fc.run_symbol, tasks, pool, context.log, _describe)
    fits = [f for r in results for f in r.fits]
    new = _forecast_frame([row for r in results for row in r.rows], calendar)

    fitted = time.perf_counter()
    scores, decisions, champions, replay = _score_and_decide(
        lake, config, calendar, symbols, origins, new, bars, drift.drift_evidence(reports, symbols)
    )
    classifier_features = list(settings.classifier_features)
    described = feature_rows.select("symbol", "date", features=pl.struct(classifier_features).struct.json_encode())
    replay = (
        replay.drop("features")
        .join(described, on=["symbol", "date"], how="left")
        .select(list(TABLES["error_replay_buffer"].schema))
    )
    judged = time.perf_counter()
    in_force = pl.DataFrame(
        [(day, s, h, m) for day, chosen in champions.items() for (s, h), m in chosen.items()],
        schema={"date": pl.Date, "symbol": pl.String, "horizon": pl.Int64, "champion_model": pl.String},
        orient="row",
    )
    new = (
        new.join(in_force, on=["date", "symbol", "horizon"], how="left")
        .with_columns(is_champion=pl.col("model") == pl.col("champion_model"))
        .select(list(TABLES["forecasts"].schema))
    )

    fit_frame = _fit_frame(fits)
    written_fits = lake.merge("model_fits", fit_frame, insert_only=True) if fits else None
    lake.ensure("model_fits")
    forecast_result = lake.sync_range("forecasts", new, start, end, {"symbol": symbols})
    score_result = lake.sync_range("forecast_scores", scores, start, end, {"symbol": symbols})
    decision_result = lake.sync_range("model_registry", decisions, start, end, {"symbol": symbols})
    replay_result = lake.sync_range("error_replay_buffer", replay, start, end, {"symbol": symbols})

    made = Counter(f.model for f in fits)
    skipped = Counter()
    for r in results:
        skipped.update(r.skipped)
    context.log.info(
        f"forecasts {start}..{end}: {new.height} rows, {len(fits)} fits {dict(made)}; fit+forecast "
        f"{fitted - began:.1f}s, scores+registry {judged - fitted:.1f}s, writes {time.perf_counter() - judged:.1f}s"
    )
    yield materialized(
        context,
        "model_fits",
        fit_frame,
        asset_key="model_fits",
        metadata={
            "fits_made": dg.MetadataValue.json(dict(made)),
            "fit_seconds": round(sum(f.seconds for f in fits), 2),
            "rows_inserted": written_fits.inserted if written_fits else 0,
        },
    )
    yield materialized(
        context,
        "forecasts",
        new,
        asset_key="forecasts",
        metadata={
            **write_metadata(forecast_result, new, start, end),
            "fits_made": dg.MetadataValue.json(dict(made)),
            "skipped_symbol_days": dg.MetadataValue.json(dict(skipped)),
            **preview(new),
            **plot_metadata(context, lake, config, "forecast_vs_actual", end),
        },
    )
    yield from _checked(
        "forecasts", lake, start, end, in_universe, lambda t: {"ordered_intervals": checks.ordered_intervals(t)}
    )
    yield materialized(
        context,
        "forecast_scores",
        scores,
        asset_key="forecast_scores",
        metadata={**write_metadata(score_result, scores, start, end), **preview(scores)},
    )
    yield from _checked("forecast_scores", lake, start, end, in_universe, lambda t: {})
    champions_now = decisions.filter(pl.col("champion") & (pl.col("as_of") == pl.col("as_of").max()))
    yield materialized(
        context,
        "model_registry",
        decisions,
        asset_key="model_registry",
        metadata={
            **write_metadata(decision_result, decisions, start, end),
            "approved": decisions.filter(pl.col("approved") & (pl.col("recommendation") == "PROMOTE")).height,
            "champions": dg.MetadataValue.md(
                markdown_table(champions_now.select("symbol", "horizon", "model").sort("symbol", "horizon", "model"))
            ),
            **preview(decisions),
        },
    )
    yield from _checked(
        "model_registry",
        lake,
        start,
        end,
        in_universe,
        lambda t: {"one_champion": checks.one_per_group(t, "champion", ["as_of", "symbol", "horizon"])},
    )
    yield materialized(
        context,
        "error_replay_buffer",
        replay,
        asset_key="error_replay_buffer",
        metadata={
            **write_metadata(replay_result, replay, start, end),
            "mean_confidence": round(float(replay["confidence"].mean()), 4) if replay.height else None,  # type: ignore[arg-type]
            **preview(replay),
        },
    )
    yield from _checked("error_replay_buffer", lake, start, end, in_universe, lambda t: {})


def _checked(name, lake, start, end, where, more):  # type: ignore[no-untyped-def]
    """The asset's check results: schema and keys of the written range, plus ``more(table)``."""
    table, outcomes = asset_checks.table_outcomes(lake, name, start, end, where)
    yield from asset_checks.results(name, {**outcomes, **more(table)})


def _about(symbols: list[str]) -> pl.Expr:
    """Drift report rows about one of the symbols or about all of them."""
    return pl.col("symbol").is_in([*symbols, drift.ALL_SYMBOLS])


def _load_states(
    lake: Lake, symbols: list[str], since: dt.date, end: dt.date
) -> dict[str, dict[tuple[str, dt.date], dict]]:
    """Stored fits of the symbols with fit dates in ``since..end``, unpickled."""
    stored = lake.read("model_fits", since, end, where=pl.col("symbol").is_in(symbols))
    states: dict[str, dict[tuple[str, dt.date], dict]] = {s: {} for s in symbols}
    for symbol, model, fit_date, blob in stored.select("symbol", "model", "fit_date", "state").iter_rows():
        states[symbol][(model, fit_date)] = pickle.loads(blob)
    return states


def _task(
    symbol: str,
    bars: pl.DataFrame,
    feature_rows: pl.DataFrame,
    feature_names: list[str],
    origins: list[dt.date],
    sessions: list[dt.date],
    states: dict[str, dict],
    triggers: tuple[dt.date, ...],
    calls: dict[int, dict],
    settings: fc.ForecastSettings,
) -> fc.SymbolTask:
    own = bars.filter(pl.col("symbol") == symbol).sort("date")
    joined = own.join(feature_rows.filter(pl.col("symbol") == symbol), on=["symbol", "date"], how="left")
    return fc.SymbolTask(
        symbol=symbol,
        dates=joined.get_column("date").to_numpy().astype("datetime64[D]"),
        returns=joined.get_column("log_return").fill_null(np.nan).to_numpy(),
        log_close=np.log(joined.get_column("close").to_numpy()),
        features={n: joined.get_column(n).cast(pl.Float64).fill_null(np.nan).to_numpy() for n in feature_names},
        origins=origins,
        sessions=sessions,
        states=states[symbol],
        settings=settings,
        triggers=triggers,
        calls=calls,
    )


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


def _fit_frame(fits: list[fc.Fit]) -> pl.DataFrame:
    now = utc_now()
    return pl.DataFrame(
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


def _score_and_decide(
    lake: Lake,
    config: Config,
    calendar: TradingCalendar,
    symbols: list[str],
    origins: list[dt.date],
    new: pl.DataFrame,
    bars: pl.DataFrame,
    drift_evidence: dict[tuple[str, dt.date], dict[str, object]],
) -> tuple[pl.DataFrame, pl.DataFrame, dict[dt.date, dict[tuple[str, int], str]], pl.DataFrame]:
    """Scores of the targets in the range, the registry decisions of each day, the
    champion in force on each origin (the previous session's decision), and the
    classifier's confident mistakes among the scores (the error replay buffer's rows)."""
    settings, window = config.forecasting, config.score_window
    start, end = origins[0], origins[-1]
    # a day judges the targets of its last `window` sessions, each model by its latest row there,
    # whose figures are over that row's own window: a symbol without recent scores (bars that
    # stopped) is judged by an older row, so scores reach `window - 1` sessions further back, or
    # that row's figures would depend on where the run started
    judged_start = calendar.shift_sessions(start, -(window - 1))
    score_start = calendar.shift_sessions(judged_start, -(window - 1))
    origin_start = calendar.shift_sessions(score_start, -max(settings.horizons))
    in_universe = pl.col("symbol").is_in(symbols)
    earlier = lake.read("forecasts", origin_start, calendar.previous_session(start), where=in_universe)
    candidates = pl.concat([earlier.select(new.columns), new], how="vertical_relaxed")
    closes = bars.filter(pl.col("date") >= origin_start).select("symbol", "date", "close")
    scored = scoring.realized(candidates, closes).filter(pl.col("target_date").is_between(score_start, end))
    regimes = lake.read(
        "market_regimes", origin_start, end, where=in_universe, columns=["symbol", "date", "market_regime"]
    )
    scored = scored.join(regimes.rename({"market_regime": "regime"}), on=["symbol", "date"], how="left")
    sessions = calendar.sessions(calendar.shift_sessions(score_start, -window), end)
    # figures for the range's targets and each group's last before them (what the days read)
    rolled = scoring.rolling_metrics(scored, sessions, window, since=judged_start, full_from=start)
    scores = rolled.filter(pl.col("target_date").is_between(start, end)).select(list(TABLES["forecast_scores"].schema))
    replay = scoring.replay_candidates(
        scored.filter(pl.col("target_date").is_between(start, end)),
        "direction_classifier",
        settings.replay_min_confidence,
    )

    sectors = {s: config.sectors.sector(s) for s in symbols}
    rolled = rolled.with_columns(sector=pl.col("symbol").replace_strict(sectors, default="Unknown"))
    frame, champions = registry.decide_days(
        rolled, origins, sessions, window, symbols, settings.horizons, settings.models, drift_evidence, config.gate
    )
    previous = calendar.previous_session(start)
    if previous is not None:  # the decision in force on the first day was made the session before
        stored = lake.read("model_registry", previous, previous, where=in_universe & pl.col("champion"))
        champions[previous] = {(s, h): m for s, h, m in stored.select("symbol", "horizon", "model").iter_rows()}
    in_force = {day: champions.get(calendar.previous_session(day), {}) for day in origins}
    return scores, frame, in_force, replay
