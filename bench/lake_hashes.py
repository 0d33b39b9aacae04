"""Content hash of every table of a lake, lineage aside: is a refactor's lake the same lake?

Question: do two lakes written by two versions of the code hold the same data? Each table is
read whole, its lineage columns dropped (the catalogue's ``volatile`` columns, e.g.
``ingested_at``, ``fitted_at``, and the alerts' time, id and run id: the run's, not data), the
landing root stripped from ``file`` (the lakes may have been written from two clones), the
rows sorted by every column, and the result hashed (polars' row hash, summed order-free and
also over the sorted frame). Two lakes are the same when every table's row count and hash
agree.

    .venv/bin/python bench/lake_hashes.py data/lake --strip "$PWD" --out /tmp/after.json
    .venv/bin/python bench/lake_hashes.py data/lake --strip "$PWD" --against /tmp/before.json

Prints one line per table (rows, hash) and, with ``--against``, the tables that differ;
exit status 1 when any does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import polars as pl

from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake

LINEAGE = {"alerts": ("fired_at", "alert_id")}
"""Lineage columns the catalogue does not mark ``volatile``: an alert's time and its id (a hash
of the run id); the run id inside its ``context`` is blanked too."""


def table_hash(frame: pl.DataFrame, strip: str | None) -> str:
    if "context" in frame.columns:
        frame = frame.with_columns(pl.col("context").str.replace(r'"run_id": "[^"]*"', '"run_id": ""'))
    if strip and "file" in frame.columns:
        frame = frame.with_columns(pl.col("file").str.replace(strip, "", literal=True))
    frame = frame.select(sorted(frame.columns))
    frame = frame.sort(frame.columns, nulls_last=True)
    digest = hashlib.sha256()
    for column in frame.columns:
        digest.update(column.encode())
        digest.update(frame.get_column(column).hash(seed=0).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def hashes(root: str, strip: str | None) -> dict[str, dict[str, object]]:
    lake = Lake(root)
    out: dict[str, dict[str, object]] = {}
    for name, spec in TABLES.items():
        if not lake.exists(name):
            out[name] = {"rows": None, "hash": None}
            continue
        frame = lake.read(name)
        frame = frame.drop([c for c in (*spec.volatile, *LINEAGE.get(name, ())) if c in frame.columns])
        out[name] = {"rows": frame.height, "hash": table_hash(frame, strip)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", help="lake root")
    parser.add_argument("--strip", help="prefix removed from the bronze tables' file column")
    parser.add_argument("--out", type=Path, help="write the hashes as JSON")
    parser.add_argument("--against", type=Path, help="compare with hashes written by --out")
    args = parser.parse_args(argv)
    mine = hashes(args.lake, args.strip)
    for name, figures in mine.items():
        print(f"{name:22} {figures['rows']!s:>9}  {figures['hash']}")
    if args.out:
        args.out.write_text(json.dumps(mine, indent=1))
    if args.against:
        theirs = json.loads(args.against.read_text())
        differ = [n for n in sorted(set(mine) | set(theirs)) if mine.get(n) != theirs.get(n)]
        print(f"differ from {args.against}: {', '.join(differ) if differ else 'none'}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
