"""The ``lakehouse`` command: run the pipeline, query the lake, list its tables, write a report.

Exit status: 0 success; 1 the run failed (an asset failed, e.g. on bad input), the
query failed or was stopped (timeout, Ctrl-C), or a table cannot be read; 2 bad usage or
arguments (unknown option, bad date, bad symbol, bad configuration, no lake at the path).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import gc
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lakehouse_assets.config import Config, ConfigError, default_config_dir
from lakehouse_assets.defs.settings import (
    calendar_of,
    config_at,
    default_lake_uri,
    instance_at,
    sqlite_files_kept_open,
)
from lakehouse_assets.lake.lock import LakeBusyError, LakeLock

EXAMPLES = """examples:
  lakehouse run                                  # bundled S&P 500, NASDAQ, MSFT over the default range
  lakehouse run --start 2018-01-02 --end 2018-03-29 --symbols ^GSPC
  lakehouse run --ohlcv-dir landing/ohlcv --sentiment-dir landing/sentiment
  lakehouse run --start 2018-12-31 --end 2018-12-31 --select bronze,features
  lakehouse query "select symbol, count(*) from ohlcv_daily group by 1"
  lakehouse query -f sql/latest_bars.sql --param as_of=2018-06-29 --format csv
  lakehouse sql                                  # interactive, read-only SQL shell over the lake
  lakehouse catalog --out lake.duckdb            # views for any DuckDB client: ATTACH 'lake.duckdb' (READ_ONLY)
  lakehouse tables
  lakehouse alerts list
  lakehouse alerts ack 385aaad9 --by alice --reason "MSFT delisted from the feed; fix tomorrow"
  lakehouse simulate --symbols 500 --years 10 --out landing/sim --sentiment
  lakehouse report --as-of 2018-06-29 --out report.html
"""


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.exits_after = argv is None  # the console script: the process ends when main returns
    if args.command == "run":
        gc.disable()  # see _run: what is loaded before the run lives as long as the process
    if getattr(args, "json", False):
        args.format = "json"
    try:
        if args.config:
            if not Path(args.config).is_dir():
                raise UsageError(f"--config {args.config}: no such directory")
            _config(args)  # a chosen configuration is checked whole, whatever the verb
        return int(args.handler(args))
    except UsageError as exc:
        first, *more = str(exc).splitlines()  # a configuration's problems: one line each
        print("\n  ".join([f"lakehouse {args.command}: {first}", *more]), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "query":  # a query stopped by Ctrl-C is a failed query, like one stopped by --timeout
            print("lakehouse query: interrupted (Ctrl-C): the query was stopped", file=sys.stderr)
            return 1
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`lakehouse query ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        if args.exits_after:  # nothing left to free: spare the interpreter's exit a full collection
            gc.freeze()
        elif args.command == "run":  # called in a process that goes on (tests): collect as before
            gc.unfreeze()
            gc.enable()


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, for scripts (same as --format json)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakehouse",
        description="Delta Lake lakehouse for daily bars and sentiment: Dagster assets, DuckDB SQL.",
        epilog=EXAMPLES + "\nexit status: 0 ok, 1 run or query failed, 2 bad arguments, 141 output reader went away",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{run,query,sql,catalog,tables,alerts,maintain,simulate,report,sync-ui}"
    )

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--lake", help="lake root: a path or s3://bucket/prefix (default: $LAKEHOUSE_LAKE or data/lake)"
    )
    common.add_argument("--config", help="configuration directory (default: config/)")

    run = sub.add_parser(
        "run",
        parents=[common],
        help="materialize every asset for a range of trading days",
        description="Materialize every asset (or those of --select) for a range of trading days, as one Dagster run.",
        epilog="examples:\n  lakehouse run\n  lakehouse run --start 2018-01-02 --end 2018-12-31 --symbols ^GSPC,MSFT\n"
        "  lakehouse run --start 2018-12-31 --end 2018-12-31 --select bronze,silver   # land bars, derive features\n"
        "  lakehouse run --start 2018-12-31 --end 2018-12-31 --select features,market_regimes\n"
        "  lakehouse run --start 2018-12-31 --end 2018-12-31 --quiet --json   # the summary as JSON, for scripts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--start", help="first day YYYY-MM-DD (default: config default_run.start)")
    run.add_argument("--end", help="last day YYYY-MM-DD (default: config default_run.end)")
    run.add_argument("--ohlcv-dir", help="CSV landing dir {dir}/{SYMBOL}/1day/*.csv[.gz] (replaces the bundled data)")
    run.add_argument("--sentiment-dir", help="JSONL landing dir {dir}/{SYMBOL}/{YYYY-MM-DD}.jsonl")
    run.add_argument("--symbols", help="comma-separated symbols to restrict the universe")
    run.add_argument(
        "--select",
        metavar="NAMES",
        help="comma-separated asset groups and/or assets to run (default: all); what they read upstream "
        "is taken from the lake as it is",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines; only the summary and errors")
    _output_options(run)
    run.set_defaults(handler=_run)

    query = sub.add_parser(
        "query",
        parents=[common],
        help="run DuckDB SQL; every lake table is a view by its name",
        description="Run read-only DuckDB SQL over the lake. Every table is a view by its name; $name "
        "parameters take values from --param name=value. Only SELECT (and EXPLAIN) statements run; files "
        "outside the lake, the network and extensions are out of reach (docs/operations.md).",
        epilog='examples:\n  lakehouse query "select * from quarantine limit 5"\n'
        "  lakehouse query -f sql/latest_bars.sql --param as_of=2018-06-29 --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    query.add_argument("sql", nargs="?", help="the SQL text (or use -f)")
    query.add_argument("-f", "--file", help="read the SQL from a file, e.g. sql/latest_bars.sql")
    query.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="bind $NAME (repeatable)")
    _output_options(query)
    query.add_argument(
        "--as-of",
        action="append",
        default=[],
        metavar="[TABLE=]VERSION|TIMESTAMP",
        help="time travel: every table as of a UTC timestamp (YYYY-MM-DD[THH:MM[:SS]]), or one table "
        "as of a version or timestamp, e.g. strategy_weights=12 (repeatable)",
    )
    query.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the query after this many seconds, exit status 1 (default: 300; 0: no limit); Ctrl-C stops it too",
    )
    query.set_defaults(handler=_query)

    shell = sub.add_parser(
        "sql",
        parents=[common],
        help="interactive read-only SQL shell over the lake; every table is a view by its name",
        description="An interactive DuckDB shell over the lake, read-only as lakehouse query is (the same "
        "statement policy): end a statement with ';'. Line editing and history (~/.lakehouse_sql_history, or "
        "$XDG_STATE_HOME/lakehouse/sql_history); .tables lists the tables, .quit or Ctrl-D leaves, Ctrl-C "
        "cancels the statement being typed or run. Without a terminal it runs the statements read from stdin "
        "(exit status 1 if one failed).",
        epilog="examples:\n  lakehouse sql\n  echo 'select count(*) from ohlcv_daily;' | lakehouse sql --format csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _output_options(shell)
    shell.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop a statement after this many seconds (default: 300; 0: none)",
    )
    shell.set_defaults(handler=_sql)

    catalog = sub.add_parser(
        "catalog",
        parents=[common],
        help="write a DuckDB database of views over the lake, for any DuckDB client",
        description="Write a DuckDB database file holding one view per lake table (over delta_scan of the "
        "table's absolute path: the views read its current version) and one per parameter-free named query "
        "of sql/. Any DuckDB of the same version with the delta extension loaded attaches it read-only. The "
        "file holds no data and no credentials: for an s3:// lake the reading session needs httpfs and an S3 "
        "secret of its own (README: SQL from a shell, a notebook or any DuckDB client).",
        epilog="examples:\n  lakehouse catalog --out lake.duckdb\n"
        "  duckdb -c \"LOAD delta; ATTACH 'lake.duckdb' AS lake (READ_ONLY); select count(*) from lake.ohlcv_daily\"",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    catalog.add_argument("--out", required=True, metavar="FILE", help="the DuckDB file to write, e.g. lake.duckdb")
    catalog.add_argument(
        "--force", action="store_true", help="overwrite FILE even if it is not a catalog this command wrote"
    )
    catalog.set_defaults(handler=_catalog)

    tables = sub.add_parser(
        "tables",
        parents=[common],
        help="list the lake's tables with version, rows, files and size",
        description="List the catalogued tables with their Delta version, rows, files and size.",
        epilog="examples:\n  lakehouse tables\n  lakehouse tables --json\n  lakehouse tables --lake s3://bucket/lake",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _output_options(tables)
    tables.set_defaults(handler=_tables)

    alerts = sub.add_parser(
        "alerts",
        help="list, acknowledge or clear alerts",
        description="Alerts fired by failed asset checks and failed runs (the alerts table). Acknowledging "
        "an alert silences its rule on its asset (every alert of that rule and asset is marked) until it "
        "expires (config alerts.ack_ttl_hours); clear ends it early.",
        epilog="examples:\n  lakehouse alerts list\n  lakehouse alerts list --all --format json\n"
        '  lakehouse alerts ack 385aaad9 --by alice --reason "known gap" --ttl-hours 48\n'
        "  lakehouse alerts clear 385aaad9",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = alerts.add_subparsers(dest="action", required=True, metavar="{list,ack,clear}")
    listing = actions.add_parser("list", parents=[common], help="open alerts (not acknowledged, or expired)")
    listing.add_argument("--all", action="store_true", help="every alert, acknowledged ones too")
    _output_options(listing)
    ack = actions.add_parser("ack", parents=[common], help="acknowledge an alert: no re-notification until the TTL")
    ack.add_argument("alert_id", help="the alert's id (or a unique prefix)")
    ack.add_argument("--by", default=os.environ.get("USER") or "unknown", help="who acknowledges (default: $USER)")
    ack.add_argument("--reason", default="", help="why (recorded with the alert)")
    ack.add_argument("--ttl-hours", type=float, help="how long (default: config alerts.ack_ttl_hours, 24)")
    clear = actions.add_parser("clear", parents=[common], help="end an acknowledgement: notifications resume")
    clear.add_argument("alert_id", help="the alert's id (or a unique prefix)")
    alerts.set_defaults(handler=_alerts)

    maintain = sub.add_parser(
        "maintain",
        parents=[common],
        help="compact small files, vacuum old ones, checkpoint: every table (what the weekly job does)",
        description="Compact each table's crowded partitions, vacuum files older than the retention "
        "(config monitoring.yaml maintenance.retention_days; time travel keeps working inside it), checkpoint.",
        epilog="examples:\n  lakehouse maintain\n  lakehouse maintain --retention-days 30\n"
        "  lakehouse maintain --retention-days 0 --force   # reclaim disk now: no reader may hold an old version",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    maintain.add_argument(
        "--retention-days",
        type=float,
        help="override the configured retention (days; at least 1 unless --force: readers of older versions fail)",
    )
    maintain.add_argument(
        "--force", action="store_true", help="allow a retention below the 1-day minimum (nothing may read the lake)"
    )
    maintain.set_defaults(handler=_maintain)

    simulate = sub.add_parser(
        "simulate",
        help="write a simulated universe (bars, optional sentiment, sectors.yaml) as landing files",
        description="Write a simulated universe in the landing formats, for scale tests: a GARCH(1,1) market "
        "factor fitted on the bundled S&P 500, 11 GICS sector factors and idiosyncratic noise, on NYSE sessions. "
        "Bars go to {out}/ohlcv/{SYMBOL}/1day/{YYYY}.csv (source column 'simulated'), sentiment to "
        "{out}/sentiment/{SYMBOL}/{YYYY-MM-DD}.jsonl (weekly), sectors to {out}/sectors.yaml. "
        "The same arguments and seed give byte-identical files.",
        epilog="examples:\n  lakehouse simulate --symbols 50 --years 2 --out landing/sim\n"
        "  lakehouse simulate --symbols 500 --years 10 --out landing/sim --seed 7 --sentiment\n"
        "  lakehouse run --ohlcv-dir landing/sim/ohlcv --sentiment-dir landing/sim/sentiment "
        "--start 2018-01-02 --end 2018-01-31",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    simulate.add_argument("--symbols", type=int, required=True, metavar="N", help="number of symbols (SIM0001..)")
    simulate.add_argument("--years", type=int, required=True, metavar="Y", help="calendar years of sessions")
    simulate.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    simulate.add_argument(
        "--start", help="first day YYYY-MM-DD (default: the Y years end 2018-12-31, the bundled data's end)"
    )
    simulate.add_argument("--sentiment", action="store_true", help="also write weekly sentiment snapshots")
    simulate.set_defaults(handler=_simulate, config=None)  # writes files only: no lake, no configuration

    report = sub.add_parser(
        "report",
        parents=[common],
        help="write one static HTML page: the plots and the key tables as of a day",
        description="Write the lake as of a day as one self-contained HTML page (inline CSS, images embedded, "
        "no external resources): forecast vs actual of the index, strategy weights, feature drift, equity curves, "
        "regime timeline, and the latest strategy weights, variance by strategy and regime, backtest summary, "
        "champion models and open alerts on or before the day.",
        epilog="examples:\n  lakehouse report\n  lakehouse report --as-of 2018-06-29 --out report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("--as-of", help="the day YYYY-MM-DD (default: the latest date in ohlcv_daily)")
    report.add_argument("--out", default="report.html", help="the HTML file to write (default: report.html)")
    report.set_defaults(handler=_report)

    sync_ui = sub.add_parser(
        "sync-ui",
        parents=[common],
        help="show the lake's partitions as materialized in the Dagster UI (a lake copied or restored)",
        description="Report to the Dagster instance at $DAGSTER_HOME (default .dagster_home) every partition "
        "the lake's runs materialized (its materializations record; for a lake written before it, the days each "
        "asset's table holds rows for) that the instance does not know "
        "as materialized, as a runless materialization; then reload the UI. A second sync reports nothing.",
        epilog="examples:\n  lakehouse sync-ui\n  lakehouse sync-ui --lake /backups/lake --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync_ui.add_argument("--dry-run", action="store_true", help="count what would be reported; report nothing")
    sync_ui.set_defaults(handler=_sync_ui)
    return parser


def _lake(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The lake of ``--lake`` (default $LAKEHOUSE_LAKE or data/lake). Only ``run`` creates
    one (``create``); for every other verb a local path that is not a directory is a usage
    error, not an empty lake (an ``s3://`` prefix cannot be told from an empty one)."""
    from lakehouse_assets.lake.delta import Lake

    lake = Lake(args.lake or default_lake_uri())
    if not create and "://" not in lake.root and not Path(lake.root).is_dir():
        source = "--lake" if args.lake else "$LAKEHOUSE_LAKE or the default data/lake"
        raise UsageError(f"no lake at {lake.root} (from {source}; lakehouse run creates one)")
    return lake


def _finite(value: float | None, name: str) -> None:
    """``--name`` must be a finite number >= 0 (argparse's float takes nan and inf)."""
    import math

    if value is not None and not (math.isfinite(value) and value >= 0):
        raise UsageError(f"--{name} must be a finite number >= 0, got {value}")


def _config(args: argparse.Namespace) -> Config:
    """The configuration of ``--config`` (default ``config/``), read once per process."""
    try:
        return config_at(args.config or default_config_dir())
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _date(value: str | None, default: dt.date, name: str) -> dt.date:
    if value is None:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--{name} {value!r} is not a date YYYY-MM-DD") from None


# --- run ---------------------------------------------------------------------------


def partition_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    """The run's partitions as Dagster tags: one session is a partition (as the schedule's
    runs and the UI's Materialize of a day are, so its check results are recorded on that
    partition), several a range (one run, the single-run backfill policy)."""
    if start == end:
        return {"dagster/partition": start.isoformat()}
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }


def _run(args: argparse.Namespace) -> int:
    config = _config(args)
    calendar = calendar_of(config)
    start = _date(args.start, config.universe.default_start, "start")
    end = _date(args.end, config.universe.default_end, "end")
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    first_partition = config.exchange.partitions_start
    if start < first_partition:
        raise UsageError(f"--start {start} is before the first partition {first_partition} (config exchange.yaml)")
    today = dt.datetime.now(_zone(config.exchange.timezone)).date()
    sessions = calendar.sessions(start, min(end, today))
    if not sessions:
        raise UsageError(f"no {calendar.code} trading sessions between {start} and {end}: nothing to run")
    for name in ("ohlcv_dir", "sentiment_dir"):
        folder = getattr(args, name)
        if folder and not Path(folder).is_dir():
            raise UsageError(f"--{name.replace('_', '-')} {folder}: no such directory")
    symbols = _symbols(args.symbols, config, bundled=not args.ohlcv_dir)

    # Dagster and the assets (seconds to import) only for the verb that runs them
    from lakehouse_assets.build import build_definitions
    from lakehouse_assets.defs.resources import SourcesResource

    lake = _lake(args, create=True)
    defs = build_definitions(
        config,
        lake_uri=lake.root,
        sources=SourcesResource(
            ohlcv_dir=_abs(args.ohlcv_dir), sentiment_dir=_abs(args.sentiment_dir), symbols=symbols
        ),
    )
    job = defs.resolve_job_def("daily_job")
    if args.select:
        job = _subset(defs, job, args.select)
    progress = _Progress(sessions[0], sessions[-1], len(sessions), quiet=args.quiet, total_steps=len(job.graph.nodes))
    job = job.with_logger_defs({"progress": progress.logger_def()})
    source = args.ohlcv_dir or "bundled data"
    if not args.quiet:
        print(
            f"lakehouse run: {len(sessions)} trading days {sessions[0]}..{sessions[-1]} from {source} into {lake.root}"
            + (f" (--select {args.select})" if args.select else ""),
            file=sys.stderr,
        )
    began = time.monotonic()
    # Dagster's SQLite files stay open until the alerts are raised (settings.py: no WAL
    # checkpoint for every event the run stores)
    with sqlite_files_kept_open():
        instance = functools.cache(_instance)
        lock = _lock(lake, instance)  # taken here, re-entered by every step of the run, released at its end
        try:
            # a live holder refuses us before we open the instance: it may hold the instance's
            # SQLite write lock, and the answer must be "lake is busy", not "database is locked"
            lock.refuse_if_live()
            instance()
            lock.acquire()
        except LakeBusyError as exc:
            print(f"lakehouse run: {exc}", file=sys.stderr)
            return 1
        # What is loaded by now (Dagster, polars, the definitions: about two million objects) lives
        # as long as the process. Frozen (gc.freeze: moved out of the collector's generations, as
        # main does before the imports), the cyclic collector stops walking it on every full
        # collection: 0.5-1 s of a day's run at N = 500, and 2 s or more at interpreter exit.
        # main unfreezes it after the run unless the process ends then.
        gc.freeze()
        gc.enable()
        try:
            result = job.execute_in_process(
                instance=instance(),
                run_id=lock.run_id,
                tags=partition_tags(sessions[0], sessions[-1]) | {"lakehouse/cli": "run"},
                run_config={"loggers": {"progress": {}}},
                raise_on_error=False,
            )
        finally:
            lock.release()
        _emit(*progress.summary(), args.format)
        _alert(instance(), lake, config, result.run_id)
    elapsed = time.monotonic() - began
    if not result.success:
        print(f"lakehouse run: failed after {elapsed:.1f}s: {progress.first_error()}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"lakehouse run: done in {elapsed:.1f}s (run {result.run_id[:8]})", file=sys.stderr)
    return 0


def _subset(defs: Any, job: Any, given: str) -> Any:
    """``job`` cut to the asset groups and assets named in ``given``, with their checks of
    ``job``'s selection only. Group names are read from ``defs``. An asset written by one
    step together with others (a multi-asset) brings them along: Dagster cannot run part of it."""
    import dagster as dg

    graph = defs.resolve_asset_graph()
    keys = graph.materializable_asset_keys
    groups = sorted({graph.get(key).group_name for key in keys})
    assets = sorted(key.to_user_string() for key in keys)
    names = [n.strip() for n in given.split(",") if n.strip()]
    unknown = [n for n in names if n not in groups and n not in assets]
    if unknown or not names:
        raise UsageError(
            f"--select {given!r}: unknown {', '.join(unknown) or '(nothing named)'}\n"
            f"groups: {', '.join(groups)}\nassets: {', '.join(assets)}"
        )
    named = dg.AssetSelection.groups(*(n for n in names if n in groups)) | dg.AssetSelection.assets(
        *(n for n in names if n in assets)
    )
    whole = next(j for j in defs.jobs if j.name == job.name).selection
    chosen = whole & named.required_multi_asset_neighbors()
    picked = chosen.resolve(graph)
    along = sorted(k.to_user_string() for k in picked - named.resolve(graph))
    if along:
        print(f"lakehouse run: --select also runs {', '.join(along)} (written by the same step)", file=sys.stderr)
    return job.get_subset(asset_selection=picked, asset_check_selection=chosen.resolve_checks(graph))


def _symbols(given: str | None, config: Config, *, bundled: bool) -> list[str] | None:
    """``--symbols`` checked: each a symbol (core/symbols.py: a name, never a path), and,
    without ``--ohlcv-dir``, one of the bundled series (config universe.yaml)."""
    from lakehouse_assets.core.symbols import check_symbol

    if given is None:
        return None
    symbols = [s.strip() for s in given.split(",") if s.strip()]
    if not symbols:
        raise UsageError(f"--symbols {given!r}: no symbol given (comma-separated, e.g. ^GSPC,MSFT)")
    for symbol in symbols:
        try:
            check_symbol(symbol, "--symbols")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if bundled:
        known = config.universe.bundled_symbols
        unknown = [s for s in symbols if s not in known]
        if unknown:
            raise UsageError(
                f"--symbols: no bundled data for {', '.join(unknown)}; bundled: {', '.join(known)} "
                "(give --ohlcv-dir for other symbols)"
            )
    return symbols


def _alert(instance: Any, lake: Any, config: Config, run_id: str) -> None:
    """Alerts for the run's failed checks (and its failure), as the sensor would raise them."""
    from lakehouse_assets.defs.alerts import alert_on, run_events

    def say(line: str) -> None:
        print(f"lakehouse run: {line}", file=sys.stderr)

    try:
        alert_on(lake, config.alerts, run_events(instance, run_id), say)
    except Exception as exc:
        say(f"alerting failed ({type(exc).__name__}: {exc}); the run's result stands")


def _abs(path: str | None) -> str | None:
    return str(Path(path).resolve()) if path else None


def _zone(name: str) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def _instance() -> Any:
    """The Dagster instance at $DAGSTER_HOME (default ./.dagster_home), so the UI sees CLI runs;
    created if new, safely when several commands start on a new home at once."""
    # Plan a range run with one event per asset instead of one per asset and partition: the
    # per-partition events cost ~12 ms each in SQLite (90 s for the default run). Dagster's
    # trade-off: partitions of a *failed* run show as missing rather than failed in the UI
    # (the CLI names the failure anyway). Set it to false to keep per-partition planning.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    return instance_at(os.environ.get("DAGSTER_HOME") or ".dagster_home")


def _lock(lake: Any, instance: Callable[[], Any | None]) -> LakeLock:
    """The lake's writer lock for a new run id (lake/lock.py); the instance (opened when a
    holder's run must be looked up), when there is one, tells which holders' runs have finished."""
    import uuid

    from lakehouse_assets.defs.resources import run_finished

    return LakeLock(lake.root, str(uuid.uuid4()), lambda run_id: run_finished(instance(), run_id))


class _Progress:
    """Turns Dagster step events into progress lines and a summary table."""

    def __init__(self, start: dt.date, end: dt.date, days: int, quiet: bool, total_steps: int) -> None:
        self.span, self.days, self.quiet, self.total = f"{start}..{end}", days, quiet, total_steps
        self.steps: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def logger_def(self) -> Any:
        import dagster as dg

        progress = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                event = getattr(record, "dagster_meta", {}).get("dagster_event")
                if event is not None:
                    progress.on_event(event)

        @dg.logger(None, description="progress lines for the lakehouse CLI")
        def progress_logger(_: Any) -> logging.Logger:
            log = logging.getLogger("lakehouse.progress")
            log.handlers = [Handler()]
            log.setLevel(logging.DEBUG)
            log.propagate = False
            return log

        return progress_logger

    def on_event(self, event: Any) -> None:
        kind, step = event.event_type_value, event.step_key
        if step is None:
            if kind == "RUN_FAILURE" and not self.errors:  # e.g. a resource that failed to start
                error = getattr(event.event_specific_data, "error", None)
                while error is not None and error.cause is not None:
                    error = error.cause
                if error is not None:
                    self.errors.append(error.message.strip().splitlines()[0])
            return
        state = self.steps.setdefault(step, {"asset": step, "status": "pending", "started": None, "seconds": None})
        if kind == "STEP_START":
            state.update(status="running", started=time.monotonic())
            self._say(f"  ▶ {step:<18} {self.span} ({self.days} trading days)")
        elif kind == "ASSET_MATERIALIZATION" and "rows" not in state:
            meta = event.event_specific_data.materialization.metadata
            for key, name in (
                ("range_rows", "rows"),
                ("rows_inserted", "inserted"),
                ("rows_updated", "updated"),
                ("rows_deleted", "deleted"),
                ("rejected_rows", "rejected"),
            ):
                if key in meta:
                    state[name] = meta[key].value
        elif kind == "ASSET_CHECK_EVALUATION":
            from lakehouse_assets.defs.checks import parts_of

            for part in parts_of(event.event_specific_data):
                passed, total = state.get("checks", (0, 0))
                state["checks"] = (passed + part.passed, total + 1)
                if not part.passed:
                    said = f"{part.asset} {part.name} ({'WARN' if part.warn else 'ERROR'}): {part.description}"
                    state.setdefault("failed_checks", []).append(said)
                    print(f"  ! check failed: {said}", file=sys.stderr)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            seconds = time.monotonic() - state["started"] if state["started"] else 0.0
            status = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}[kind]
            state.update(status=status, seconds=round(seconds, 1))
            if kind == "STEP_FAILURE":
                error = event.step_failure_data.error
                cause = error.cause or error
                message = f"{step}: {cause.message.strip().splitlines()[0]}"
                if error.cls_name == "DagsterAssetCheckFailedError" and state.get("failed_checks"):
                    message = f"{step}: blocking check failed: {'; '.join(state['failed_checks'])}"
                self.errors.append(message)
                print(f"  ✗ {message}", file=sys.stderr)
            else:
                self._say(f"  {'✓' if status == 'ok' else '-'} {step:<18} {status} in {seconds:.1f}s  {self._bar()}")

    def _bar(self, width: int = 20) -> str:
        """``[██████······] 6/10 steps``: the steps finished so far of the run's ``total``."""
        done = sum(s["status"] in ("ok", "FAILED", "skipped") for s in self.steps.values())
        total = max(self.total, done, 1)
        filled = round(width * done / total)
        return f"[{'█' * filled}{'·' * (width - filled)}] {done}/{total} steps"

    def _say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def summary(self) -> tuple[list[str], Sequence[tuple[object, ...]]]:
        columns = ["asset", "status", "days", "rows", "inserted", "updated", "deleted", "rejected", "checks", "seconds"]
        rows = [
            (
                s["asset"],
                s["status"],
                self.days,
                s.get("rows", ""),
                s.get("inserted", ""),
                s.get("updated", ""),
                s.get("deleted", ""),
                s.get("rejected", ""),
                "{}/{} ok".format(*s["checks"]) if "checks" in s else "",
                s["seconds"] if s["seconds"] is not None else "",
            )
            for s in self.steps.values()
        ]
        return columns, rows

    def first_error(self) -> str:
        return self.errors[0] if self.errors else "see the Dagster run log"


# --- query and tables -------------------------------------------------------------


def _query(args: argparse.Namespace) -> int:
    import duckdb

    from lakehouse_assets.lake.duck import DEFAULT_TIMEOUT, QueryError, QueryUsageError, query

    if bool(args.sql) == bool(args.file):
        raise UsageError("give the SQL as an argument or with -f FILE (one of them)")
    _finite(args.timeout, "timeout")
    sql = args.sql
    if args.file:
        try:
            sql = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"-f {args.file}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"-f {args.file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    params: dict[str, str] = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        params[name.lstrip("$")] = value
    pins = _as_of(args.as_of)
    lake = _lake(args)
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    try:
        columns, rows = query(lake, sql, params, pins, timeout=timeout or None)
    except QueryUsageError as exc:
        raise UsageError(str(exc)) from None
    except (QueryError, duckdb.Error) as exc:
        print(f"lakehouse query: {_failure(exc)}", file=sys.stderr)
        return 1
    _emit(columns, rows, args.format)
    return 0


def _failure(exc: Exception) -> str:
    """What a failed query says (``lakehouse query`` and ``lakehouse sql``): its message,
    with a hint where DuckDB's own would leave a user guessing."""
    import duckdb

    said = str(exc)
    if isinstance(exc, duckdb.PermissionException):
        first, _, rest = said.partition("\n")
        hint = "a query reads the lake's own files only, with no network (docs/operations.md)"
        return f"{first} ({hint})\n{rest}".rstrip()
    if isinstance(exc, duckdb.CatalogException) and "Table with name" in said:
        said += "\n(a view exists for each table the SQL names; lakehouse tables lists the lake's tables)"
    return said


def _sql(args: argparse.Namespace) -> int:
    """The shell: each statement runs as ``lakehouse query`` runs one (its own session, the
    same read-only policy, timeout and Ctrl-C), so the shell adds no second policy."""
    import duckdb

    from lakehouse_assets.lake.catalog import TABLES
    from lakehouse_assets.lake.duck import DEFAULT_TIMEOUT, QueryError, QueryUsageError, query

    _finite(args.timeout, "timeout")
    lake = _lake(args)
    timeout = (DEFAULT_TIMEOUT if args.timeout is None else args.timeout) or None
    interactive = sys.stdin.isatty()
    history = _open_history() if interactive else None
    if interactive:
        print(f"lakehouse sql over {lake.root} (read-only): end statements with ';', .tables, .quit", file=sys.stderr)
    failed = False
    try:
        for statement in _statements(interactive):
            if statement in (".quit", ".exit"):
                break
            try:
                if statement == ".tables":
                    _emit(["table", "layer"], [(n, t.layer) for n, t in TABLES.items() if lake.exists(n)], args.format)
                elif statement.startswith("."):
                    print(f"unknown command {statement.split()[0]} (.tables, .quit)", file=sys.stderr)
                else:
                    _emit(*query(lake, statement, timeout=timeout), args.format)
                continue
            except (QueryError, QueryUsageError, duckdb.Error) as exc:
                print(f"error: {_failure(exc)}", file=sys.stderr)
            except KeyboardInterrupt:  # while printing: the statement is over, the session is not
                print("\ninterrupted", file=sys.stderr)
            failed = True
    finally:
        if history is not None:
            _save_history(history)
    return 1 if failed and not interactive else 0


def _statements(interactive: bool) -> Any:
    """Statements as typed (prompts ``lake> ``, then ``  ...> `` until a ``;``) or read from
    stdin; a line starting with ``.`` is a shell command. Ctrl-C drops what is being typed."""
    from lakehouse_assets.lake.duck import statement_complete

    lines: list[str] = []
    while True:
        try:
            line = input(("  ...> " if lines else "lake> ") if interactive else "")
        except EOFError:
            if interactive:
                print(file=sys.stderr)
            break
        except KeyboardInterrupt:
            print("^C", file=sys.stderr)
            lines.clear()
            continue
        if not lines and (not line.strip() or line.lstrip().startswith(".")):
            if line.strip():
                _remember(line.strip(), interactive)
                yield line.strip()
            continue
        lines.append(line)
        if statement_complete("\n".join(lines)):
            _remember(" ".join(part.strip() for part in lines), interactive)
            yield "\n".join(lines)
            lines.clear()
    if lines and not interactive:  # the last statement of a script may omit its ';'
        yield "\n".join(lines)


def _history_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    return Path(state) / "lakehouse" / "sql_history" if state else Path.home() / ".lakehouse_sql_history"


def _open_history() -> Path:
    """Line editing and the history of past sessions (readline), one entry per statement."""
    import readline

    path = _history_file()
    readline.set_auto_history(False)
    readline.set_history_length(1000)
    if path.is_file():  # not on a first session
        readline.read_history_file(path)
    return path


def _remember(statement: str, interactive: bool) -> None:
    if interactive:
        import readline

        readline.add_history(statement)


def _save_history(path: Path) -> None:
    import readline

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(path)
    except OSError as exc:
        print(f"lakehouse sql: history not saved to {path}: {exc.strerror}", file=sys.stderr)


def _catalog(args: argparse.Namespace) -> int:
    import duckdb

    from lakehouse_assets.lake.duck import QueryError, QueryUsageError, write_catalog

    lake = _lake(args)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: no such directory {out.parent}")
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    try:
        views = write_catalog(lake, out, force=args.force)
    except QueryUsageError as exc:
        raise UsageError(str(exc)) from None
    except QueryError as exc:
        print(f"lakehouse catalog: {exc}", file=sys.stderr)
        return 1
    print(f"{out}: {len(views)} views over {lake.root}: {', '.join(views)}")
    print(
        f"read it from any DuckDB {duckdb.__version__} with the delta extension: "
        f"LOAD delta; ATTACH '{out}' AS lake (READ_ONLY); select count(*) from lake.ohlcv_daily;",
        file=sys.stderr,
    )
    return 0


def _as_of(items: list[str]) -> dict[str, int | dt.datetime]:
    """``--as-of`` values: ``TIMESTAMP`` (every table), ``TABLE=VERSION`` or ``TABLE=TIMESTAMP``."""
    from lakehouse_assets.lake.duck import ALL_TABLES

    pins: dict[str, int | dt.datetime] = {}
    for item in items:
        name, sep, value = item.rpartition("=") if "=" in item else ("", "", item)
        name = name if sep else ALL_TABLES
        if value.isdigit() and sep:
            pins[name] = int(value)
            continue
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(f"--as-of {item!r}: expected a version number or a timestamp YYYY-MM-DD[THH:MM]") from None
        pins[name] = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return pins


def _tables(args: argparse.Namespace) -> int:
    from lakehouse_assets.lake.catalog import TABLES
    from lakehouse_assets.lake.duck import first_line

    lake = _lake(args)
    rows: list[tuple[object, ...]] = []
    broken: dict[str, str] = {}
    for name, spec in TABLES.items():
        try:  # one table whose log cannot be read is reported; the others are still listed
            s = lake.stats(name) if lake.exists(name) else None
        except Exception as exc:
            broken[name] = first_line(exc)
            rows.append((name, spec.layer, "", "", "", "", f"ERROR: {broken[name]}"))
            continue
        if s is None:
            rows.append((name, spec.layer, "", "", "", "", "not created"))
            continue
        modified = s.last_modified.strftime("%Y-%m-%d %H:%M:%S") if s.last_modified else ""
        rows.append((name, spec.layer, s.version, s.rows, s.files, _size(s.bytes, args.format), modified))
    if broken and len(broken) == len(TABLES) and len(set(broken.values())) == 1:  # the lake itself: say it once
        print(f"lakehouse tables: cannot read the lake at {lake.root}: {next(iter(broken.values()))}", file=sys.stderr)
        return 1
    for name, problem in broken.items():
        print(f"lakehouse tables: table {name} cannot be read: {problem}", file=sys.stderr)
    _emit(["table", "layer", "version", "rows", "files", "size", "last_modified"], rows, args.format)
    return 1 if broken else 0


def _alerts(args: argparse.Namespace) -> int:
    import polars as pl

    from lakehouse_assets.core.alerts import is_open

    lake = _lake(args)
    frame = lake.read("alerts") if lake.exists("alerts") else None
    now = dt.datetime.now(dt.UTC)
    if args.action == "list":
        if frame is None or frame.is_empty():
            print("no alerts", file=sys.stderr)
            return 0
        shown = frame if args.all else frame.filter(is_open(now))
        shown = shown.sort("fired_at", descending=True).select(
            "alert_id",
            "fired_at",
            "severity",
            "rule",
            "asset",
            "partition",
            "message",
            "acknowledged",
            "acknowledged_by",
            "ack_until",
        )
        _emit(shown.columns, shown.rows(), args.format)
        return 0
    matches = frame.filter(pl.col("alert_id").str.starts_with(args.alert_id)) if frame is not None else None
    if frame is None or matches is None or matches.height != 1:
        found = 0 if matches is None else matches.height
        raise UsageError(f"{args.alert_id!r} matches {found} alerts; give a longer id (lakehouse alerts list --all)")
    row = matches.row(0, named=True)
    same = frame.filter((pl.col("rule") == row["rule"]) & (pl.col("asset") == row["asset"]))
    if args.action == "ack":
        hours = args.ttl_hours if args.ttl_hours is not None else _config(args).alerts.ack_ttl_hours
        if not 0 < hours < 24 * 366 * 100:  # also nan and inf, which no datetime can add
            raise UsageError(f"--ttl-hours must be positive (and under a century), got {hours}")
        until = now + dt.timedelta(hours=hours)
        updated = same.with_columns(
            acknowledged=pl.lit(True),
            acknowledged_by=pl.lit(args.by),
            ack_reason=pl.lit(args.reason or None, dtype=pl.String),
            ack_until=pl.lit(until, dtype=frame.schema["ack_until"]),
        )
        said = f"acknowledged {row['rule']} on {row['asset']} ({same.height} alerts) until {until:%Y-%m-%d %H:%M} UTC"
    else:
        updated = same.with_columns(
            acknowledged=pl.lit(False),
            acknowledged_by=pl.lit(None, dtype=pl.String),
            ack_reason=pl.lit(None, dtype=pl.String),
            ack_until=pl.lit(None, dtype=frame.schema["ack_until"]),
        )
        said = f"cleared {row['rule']} on {row['asset']} ({same.height} alerts): notifications resume"
    lake.merge("alerts", updated)
    print(said, file=sys.stderr)
    return 0


def _maintain(args: argparse.Namespace) -> int:
    import dataclasses

    from lakehouse_assets.lake.maintenance import RetentionTooShortError, check_retention, maintain_all, table_health

    _finite(args.retention_days, "retention-days")
    settings = _config(args).maintenance
    if args.retention_days is not None:
        settings = dataclasses.replace(settings, retention_days=args.retention_days)
    lake = _lake(args)
    try:
        warning = check_retention(settings.retention_days, force=args.force)
    except RetentionTooShortError as exc:
        raise UsageError(str(exc)) from None
    if warning:
        print(f"lakehouse maintain: {warning}", file=sys.stderr)
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")
    lock = _lock(lake, _instance if (home / "dagster.yaml").exists() else lambda: None)
    try:  # compaction and vacuum are writes: not while a run writes the lake
        with lock.held():
            results = maintain_all(lake, settings, log=lambda line: print(f"  {line}", file=sys.stderr))
    except LakeBusyError as exc:
        print(f"lakehouse maintain: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    health = [table_health(lake, r.name, settings) for r in results]
    rows = [
        (r.name, r.files_before, r.files_after, r.files_removed_by_vacuum, h.max_files_per_partition, h.small_files)
        for r, h in zip(results, health, strict=True)
    ]
    columns = ["table", "files_before", "files_after", "vacuumed", "max_files_per_partition", "small_files"]
    _print_table((columns, rows), sys.stdout)
    return 0


# --- report --------------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    given = _date(args.as_of, dt.date.min, "as-of") if args.as_of else None  # checked before the lake is read
    config = _config(args)
    lake = _lake(args)
    latest = lake.read("ohlcv_daily", columns=["date"])["date"].max()
    if latest is None:
        print(
            f"lakehouse report: the lake {lake.root} is empty (no ohlcv_daily rows): run lakehouse run first",
            file=sys.stderr,
        )
        return 1
    from lakehouse_assets import report

    out = Path(args.out)
    page = report.build(lake, config, given or latest)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror}") from None
    print(f"{out} ({_size(out.stat().st_size, 'table')})")
    return 0


# --- sync-ui -------------------------------------------------------------------------


def _sync_ui(args: argparse.Namespace) -> int:
    config = _config(args)
    lake = _lake(args)
    from lakehouse_assets.build import build_definitions
    from lakehouse_assets.defs.sync import sync

    defs = build_definitions(config, lake_uri=lake.root)
    instance = _instance()
    began = time.monotonic()
    counts = sync(instance, defs, lake, args.dry_run, log=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    held, reported = sum(c[0] for c in counts.values()), sum(c[2] for c in counts.values())
    said = "would report" if args.dry_run else "reported"
    print(
        f"lakehouse sync-ui: {len(counts)} assets, {held} partitions in {lake.root}; {said} {reported} "
        f"to {os.environ['DAGSTER_HOME']} in {time.monotonic() - began:.1f}s"
        + ("" if args.dry_run or not reported else " (reload the UI to see them)"),
        file=sys.stderr,
    )
    return 0


# --- simulate ------------------------------------------------------------------------

SIMULATION_END = dt.date(2018, 12, 31)  # the bundled data's end


def _simulate(args: argparse.Namespace) -> int:
    if args.symbols < 1:
        raise UsageError(f"--symbols must be at least 1, got {args.symbols}")
    if args.years <= 0:
        raise UsageError(f"--years must be positive, got {args.years}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    start = _date(args.start, dt.date(SIMULATION_END.year - args.years + 1, 1, 1), "start")
    end = start.replace(year=start.year + args.years) - dt.timedelta(days=1) if args.start else SIMULATION_END
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")

    from lakehouse_assets.sources.simulated import simulation_sessions, write_simulation

    try:
        sessions = simulation_sessions(start, end)
    except ValueError as exc:
        raise UsageError(f"--start {start}: {exc}") from None
    if not sessions:
        raise UsageError(f"no XNYS trading sessions between {start} and {end}")
    print(
        f"lakehouse simulate: {args.symbols} symbols x {len(sessions)} sessions {sessions[0]}..{sessions[-1]} "
        f"(seed {args.seed}) into {out}",
        file=sys.stderr,
        flush=True,
    )
    began = time.monotonic()
    written = write_simulation(
        out,
        args.symbols,
        sessions,
        args.seed,
        sentiment=args.sentiment,
        progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
    )
    print(f"simulated {written.files} files, {written.rows} rows into {out} in {time.monotonic() - began:.1f}s")
    return 0


def _size(n: int, fmt: str) -> str | int:
    if fmt != "table":
        return n
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return n


def _emit(columns: list[str], rows: Sequence[tuple[object, ...]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=_json_default, indent=2))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        sys.stdout.write(buffer.getvalue())
    else:
        _print_table((columns, rows), sys.stdout)


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _print_table(table: tuple[list[str], Sequence[tuple[object, ...]]], out: Any) -> None:
    columns, rows = table
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(_is_number(r[i]) for r in rows if r[i] not in (None, "")) for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    out.write(line(columns).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


if __name__ == "__main__":
    sys.exit(main())
