"""Small files after a year of daily runs, before and after maintenance, and what they cost a year-query.

Data: ``lakehouse simulate --symbols N --years 2`` (default N = 20, seed 7) under ``--work`` (default
``/tmp/bench_small_files``). The lake first gets the year before the measured one (2017) as one
single-run backfill (one file per table and year partition), then ``--days`` trading days of
2018 (default all 251) as one run per day, the way the after-close schedule writes them. Each
run is ``daily_job`` subset to the ``bronze`` and ``silver`` groups (bars, sentiment stubs,
quarantine, features, regimes), executed in this process on an ephemeral Dagster instance
(forecasting, a minute per day, would make a year of daily runs take hours; its tables are
written the same way, by one MERGE per run). With fewer ``--days`` than the year, the file
counts are also extrapolated linearly to the full year, and the output says so.

Measured, per table: live data files (the Delta snapshot's add actions) and parquet files on disk
(a directory listing: removed files stay until vacuum), the files of the ``year=2018`` partition,
and bytes; then ``maintain_all`` (what ``lakehouse maintain`` and the weekly job run: compact
crowded partitions, vacuum, checkpoint) with the shipped settings (``config/monitoring.yaml``),
called with ``now`` = the wall clock + retention + 1 day, i.e. as the weekly job would run once
the retention (7 days) has passed, so the vacuum removes the files that compaction replaced; then
the same counts again. Read time of a year-query before and after maintenance, medians of
``--repeats`` runs: ``lakehouse query``'s engine (DuckDB ``delta_scan`` views) on
``select symbol, count(*), avg(rsi_14), avg(realized_vol_21) from features where date between
'2018-01-01' and '2018-12-31' group by symbol``, and ``Lake.read('features', 2018-01-01,
2018-12-31)`` (polars, what the assets use), each opening the table afresh.

No goal was set; the README's claim checked here is "a table written one day at a time for a
year goes from 252 files to at most 2 per partition".

Run from the repository root. A daily run of the two groups took 2 s at N = 5 on a lightly loaded
machine and 11-17 s at N = 20 under a load of 8-17, so the default (251 runs) takes 10-70 minutes
depending on the load; ``--days 30`` took 8 minutes under load::

    .venv/bin/python bench/small_files.py
    .venv/bin/python bench/small_files.py --symbols 5 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill_bench import GROUPS, Pipeline, fresh, load, machine, render, simulate, simulated_sessions

from lakehouse_assets.config import load_config
from lakehouse_assets.lake.catalog import PARTITION_COLUMN, table
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import connect
from lakehouse_assets.lake.maintenance import maintain_all, table_health

YEAR = 2018
YEAR_SQL = (
    "select symbol, count(*), avg(rsi_14), avg(realized_vol_21) from features "
    f"where date between '{YEAR}-01-01' and '{YEAR}-12-31' group by symbol"
)


def census(lake: Lake) -> dict[str, dict[str, int]]:
    """Per table: live files, live files of the measured year, files on disk, live bytes, max files per partition."""
    settings = load_config().maintenance
    out = {}
    for name in lake.tables():
        actions = pl.DataFrame(lake.open(name).get_add_actions(flatten=True))
        in_year = (
            actions.filter(pl.col(f"partition.{PARTITION_COLUMN}") == YEAR).height
            if table(name).partitioned and actions.height
            else actions.height
        )
        on_disk = sum(1 for p in Path(lake.uri(name)).rglob("*.parquet") if "_delta_log" not in p.parts)
        health = table_health(lake, name, settings)
        out[name] = {
            "live": actions.height,
            "year": in_year,
            "disk": on_disk,
            "bytes": int(actions.get_column("size_bytes").sum()) if actions.height else 0,
            "max_per_partition": health.max_files_per_partition,
        }
    return out


def read_times(lake: Lake, repeats: int) -> tuple[float, float]:
    """Median seconds of the year-query through DuckDB and through ``Lake.read``."""
    duck, polars_read = [], []
    for _ in range(repeats + 1):  # the first of each is a warm-up
        con = connect(lake)  # a fresh connection (views over delta_scan) each time; not timed
        t0 = time.perf_counter()
        rows = con.execute(YEAR_SQL).fetchall()
        duck.append(time.perf_counter() - t0)
        con.close()
        t0 = time.perf_counter()
        frame = lake.read("features", dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
        polars_read.append(time.perf_counter() - t0)
        assert len(rows) == frame.get_column("symbol").n_unique()
    return statistics.median(duck[1:]), statistics.median(polars_read[1:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=20, help="simulated symbols (default 20)")
    parser.add_argument("--days", type=int, default=0, help="daily runs in 2018 (default 0: every session)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument("--repeats", type=int, default=5, help="timed reads before and after (default 5)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_small_files"), help="data and lake")
    args = parser.parse_args(argv)
    print("small-files benchmark: a year of daily runs, files per table before and after maintenance")
    print(machine(), flush=True)
    began = time.perf_counter()
    ohlcv_dir = simulate(args.work / f"sim_n{args.symbols}_y2", args.symbols, 2, args.seed)
    sessions = simulated_sessions(2)
    before_year = [d for d in sessions if d.year < YEAR]
    year = [d for d in sessions if d.year == YEAR]
    days = year[: args.days] if args.days else year
    lake_path = fresh(args.work / "lake")
    pipeline = Pipeline(str(lake_path), ohlcv_dir, GROUPS)
    history = pipeline.run(before_year[0], before_year[-1])
    print(f"  {YEAR - 1} as one run: {history.seconds:.1f} s; now {len(days)} daily runs ({load()})", flush=True)
    seconds = []
    for i, day in enumerate(days, 1):
        seconds.append(pipeline.run(day, day).seconds)
        if i % 50 == 0:
            print(f"    {i}/{len(days)} days, last 50 mean {statistics.mean(seconds[-50:]):.2f} s/run", flush=True)
    lake = Lake(lake_path)
    before = census(lake)
    read_before = read_times(lake, args.repeats)
    print(f"  daily runs done ({load()}); maintenance ...", flush=True)
    settings = load_config().maintenance
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.retention_days + 1)
    t0 = time.perf_counter()
    results = maintain_all(lake, settings, log=lambda line: None, now=now)
    maintain_seconds = time.perf_counter() - t0
    after = census(lake)
    read_after = read_times(lake, args.repeats)

    scale = len(year) / len(days)
    print(
        f"\n{args.symbols} symbols; {len(days)} daily runs over {days[0]}..{days[-1]} after a one-run backfill of {YEAR - 1}"
    )
    if scale != 1:
        print(
            f"EXTRAPOLATED: only {len(days)} of {len(year)} sessions were run; 'est. year' columns scale the {YEAR} files linearly"
        )
    header = ["table", "live files", f"{YEAR} files", "on disk", "max/partition", "MiB"]
    header = [
        "table",
        "before: live",
        f"{YEAR}",
        "on disk",
        "max/part",
        "after: live",
        f"{YEAR}",
        "on disk",
        "max/part",
        "live ratio",
        "MiB before",
        "MiB after",
    ]
    if scale != 1:
        header.insert(3, f"est. {YEAR} (year)")
    rows = [header]
    for name in before:
        b, a = before[name], after[name]
        row = [
            name,
            str(b["live"]),
            str(b["year"]),
            str(b["disk"]),
            str(b["max_per_partition"]),
            str(a["live"]),
            str(a["year"]),
            str(a["disk"]),
            str(a["max_per_partition"]),
            f"{b['live'] / a['live']:.0f}x" if a["live"] else "-",
            f"{b['bytes'] / 2**20:.2f}",
            f"{a['bytes'] / 2**20:.2f}",
        ]
        if scale != 1:
            row.insert(3, f"{round(b['year'] * scale)}")
        rows.append(row)
    render(rows)
    total_b = sum(v["live"] for v in before.values())
    total_a = sum(v["live"] for v in after.values())
    print(
        f"all tables: {total_b} live files before, {total_a} after; disk {sum(v['disk'] for v in before.values())} -> {sum(v['disk'] for v in after.values())}"
    )

    print("\ntimes")
    rows = [["", "before maintenance", "after", "before / after"]]
    rows.append(
        [
            "year-query, DuckDB delta_scan (s)",
            f"{read_before[0]:.3f}",
            f"{read_after[0]:.3f}",
            f"{read_before[0] / read_after[0]:.1f}x",
        ]
    )
    rows.append(
        [
            "year read, Lake.read / polars (s)",
            f"{read_before[1]:.3f}",
            f"{read_after[1]:.3f}",
            f"{read_before[1] / read_after[1]:.1f}x",
        ]
    )
    render(rows)
    print(
        f"daily runs: mean {statistics.mean(seconds):.2f} s/run; first 20 {statistics.mean(seconds[:20]):.2f} s, last 20 {statistics.mean(seconds[-20:]):.2f} s"
    )
    print(
        f"maintenance of {len(results)} tables: {maintain_seconds:.1f} s ({sum(r.compacted for r in results)} compacted)"
    )
    worst = max(a["max_per_partition"] for a in after.values())
    print(
        "\nclaim (README): after maintenance at most 2 files per partition: "
        f"max {worst} per partition: {'holds' if worst <= 2 else 'does NOT hold'}"
    )
    print(f"\n{load()}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
