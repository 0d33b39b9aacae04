"""Quarantine records: every rejected input row, with the table, key, reason and raw values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import polars as pl

QUARANTINE_COLUMNS = ("quarantine_id", "table_name", "key", "date", "symbol", "reason", "raw", "source", "file", "line")


def quarantine_records(rows: pl.DataFrame, table_name: str, value_columns: Sequence[str]) -> pl.DataFrame:
    """Turn rejected rows (with ``reason`` and lineage columns) into quarantine records.

    ``raw`` is a JSON object of ``value_columns`` as they were seen (see :func:`raw_json`:
    a non-finite float shows as the string ``"NaN"``, ``"inf"`` or ``"-inf"``, never as
    ``null``). ``quarantine_id`` is a SHA-1 of (table, file, line, key, reason), so
    re-processing the same input yields the same ids and a MERGE on it never duplicates a
    record.
    """

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in rows.columns else pl.lit(None, dtype)

    present = [c for c in value_columns if c in rows.columns]
    records = rows.select(
        pl.lit(table_name).alias("table_name"),
        pl.concat_str(
            [col("symbol", pl.String()).fill_null(""), col("date", pl.Date()).cast(pl.String).fill_null("?")],
            separator="|",
        ).alias("key"),
        col("date", pl.Date()).alias("date"),
        col("symbol", pl.String()).alias("symbol"),
        pl.col("reason").cast(pl.String),
        raw_json(rows, present).alias("raw"),
        col("source", pl.String()).alias("source"),
        col("file", pl.String()).alias("file"),
        col("line", pl.Int64()).alias("line"),
    )
    return with_quarantine_ids(records)


def raw_json(rows: pl.DataFrame, columns: Sequence[str]) -> pl.Expr:
    """A JSON object of ``columns``, one per row. Finite floats are JSON numbers; JSON has no
    ``NaN`` or infinity (``json_encode`` writes ``null``), so those are written as strings,
    ``"NaN"``, ``"inf"``, ``"-inf"``, and the record still says what was delivered.

    Examples
    --------
    >>> rows = pl.DataFrame({"close": [1.5, float("nan"), float("inf")], "note": ["a", "b", None]})
    >>> rows.select(raw_json(rows, ["close", "note"])).to_series().to_list()
    ['{"close":1.5,"note":"a"}', '{"close":"NaN","note":"b"}', '{"close":"inf","note":null}']
    """
    if not columns:
        return pl.lit("{}")
    parts = []
    for name in columns:
        encoded = pl.struct(name).struct.json_encode().str.strip_prefix("{").str.strip_suffix("}")
        if rows.schema[name].is_float():
            value = pl.col(name)
            as_text = pl.format('{}:"{}"', pl.lit(json.dumps(name)), value.cast(pl.String))
            encoded = pl.when(value.is_finite().fill_null(True)).then(encoded).otherwise(as_text)
        parts.append(encoded)
    return pl.concat_str([pl.lit("{"), pl.concat_str(parts, separator=","), pl.lit("}")])


def file_record(table_name: str, file: str, reason: str, raw: str, source: str, symbol: str | None) -> pl.DataFrame:
    """A quarantine record for a whole file that could not be read."""
    frame = pl.DataFrame(
        {
            "table_name": [table_name],
            "key": [file],
            "date": [None],
            "symbol": [symbol],
            "reason": [reason],
            "raw": [raw],
            "source": [source],
            "file": [file],
            "line": [None],
        },
        schema={
            "table_name": pl.String,
            "key": pl.String,
            "date": pl.Date,
            "symbol": pl.String,
            "reason": pl.String,
            "raw": pl.String,
            "source": pl.String,
            "file": pl.String,
            "line": pl.Int64,
        },
    )
    return with_quarantine_ids(frame)


def with_quarantine_ids(records: pl.DataFrame) -> pl.DataFrame:
    ident = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in ("table_name", "file", "line", "key", "reason")],
        separator="\x1f",
    )
    ids = (
        records.select(ident)
        .to_series()
        .map_elements(lambda s: hashlib.sha1(s.encode()).hexdigest(), return_dtype=pl.String)
        if records.height
        else pl.Series([], dtype=pl.String)
    )
    return records.with_columns(ids.alias("quarantine_id")).select(QUARANTINE_COLUMNS)
