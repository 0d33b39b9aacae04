"""News sentiment: lexicon scoring of headlines and the provider-weighted daily score.

Scores are in [-1, 1] (negative = bearish), confidences in [0, 1]. Three kinds of rows
reach ``sentiment_bronze``, told apart by ``source``:

* ``snapshot``: a landed JSON Lines snapshot that carries ``score`` (and ``confidence``)
  from an upstream provider; its provider is ``+``-joined ``providers`` of the line.
* ``vader``: a landed raw headline scored offline by the VADER lexicon; ``score`` is
  VADER's compound score and ``confidence`` is ``1 - neu``, the share of the headline's
  lexical weight that carries polarity.
* ``stub``: no sentiment was landed for the symbol and day; score 0.0, confidence 0.0.
  It is a placeholder, never sentiment: ``sentiment_daily`` marks it in ``providers``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from functools import lru_cache

import polars as pl

from lakehouse_assets.core.exact import group_sums
from lakehouse_assets.core.quarantine import quarantine_records

STUB = "stub"
LANDING_SOURCE = "sentiment_jsonl"  # the source lineage of a rejected landed line
DAILY_SCHEMA = pl.Schema(
    {
        "symbol": pl.String(),
        "date": pl.Date(),
        "score": pl.Float64(),
        "confidence": pl.Float64(),
        "count": pl.Int64(),
        "providers": pl.String(),
        "source": pl.String(),
    }
)


@lru_cache(maxsize=1)
def _vader():  # type: ignore[no-untyped-def]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_score(headline: str) -> tuple[float, float]:
    """VADER ``(score, confidence)`` of one headline: compound score and ``1 - neu``."""
    polarity = _vader().polarity_scores(headline)
    return float(polarity["compound"]), min(max(1.0 - polarity["neu"], 0.0), 1.0)


def provider_weight(provider: str, weights: Mapping[str, float], default: float) -> float:
    """Weight of a provider; a combined ``a+b`` snapshot weighs the sum of its parts."""
    parts = provider.split("+")
    return sum(weights.get(p, default) for p in parts)


def daily_sentiment(
    bronze: pl.DataFrame, expected: pl.DataFrame, weights: Mapping[str, float], default_weight: float
) -> pl.DataFrame:
    """Combine ``sentiment_bronze`` rows into one score per symbol and day.

    First each provider's rows of a day are averaged (score, confidence; count = rows).
    Then ``score`` and ``confidence`` are weighted means over the providers that
    answered, weights renormalised over them: 0.45 from a 0.6-weight provider and 0.62
    from a 0.4-weight provider give 0.518, and confidence is weighted the same way (the
    original's unweighted mean was inconsistent with its score). ``source`` names the
    kinds of rows used (``snapshot``, ``vader``, joined by ``+``).

    Every (symbol, date) of ``expected`` (the bars) with nothing landed gets the stub:
    score 0.0, confidence 0.0, count 0, providers and source ``stub``. Rows are sorted by
    symbol and date.
    """
    keys = expected.select("symbol", "date").sort("symbol", "date")  # sorted first: 3x faster than unique, sort
    # sorted, a repeated key is its row's predecessor: 30x cheaper than is_first_distinct over a struct
    symbol, date = pl.col("symbol"), pl.col("date")
    repeated = (pl.int_range(pl.len()) > 0) & symbol.eq_missing(symbol.shift()) & date.eq_missing(date.shift())
    again = keys.select(repeated).to_series()
    stub = (keys.filter(~again) if again.any() else keys).with_columns(
        score=pl.lit(0.0),
        confidence=pl.lit(0.0),
        count=pl.lit(0, pl.Int64),
        providers=pl.lit(STUB),
        source=pl.lit(STUB),
    )
    if bronze.is_empty():  # nothing landed (a bars-only deployment): the stub for every bar, nothing to weigh
        return stub.select(list(DAILY_SCHEMA)).cast(DAILY_SCHEMA)
    # one weight per provider name, not per row
    names = bronze.get_column("provider").drop_nulls().unique().to_list()
    weight = pl.col("provider").replace_strict(
        names, [provider_weight(name, weights, default_weight) for name in names], default=None, return_dtype=pl.Float64
    )
    # sums in a fixed order (core/exact.py): a re-run gives the same last bits, so commits nothing
    weighted = bronze.with_columns(weight.alias("weight")).filter(pl.col("weight") > 0)
    ordered = weighted.sort("symbol", "date", "provider", "source", "score", "confidence", nulls_last=True)
    per_provider = (
        group_sums(ordered, ["symbol", "date", "provider", "weight"], ["score", "confidence"])
        .rename({"rows": "count"})
        .with_columns(
            score_w=pl.col("score") / pl.col("score_n") * pl.col("weight"),
            confidence_w=pl.col("confidence") / pl.col("confidence_n") * pl.col("weight"),
        )
    )
    combined = (
        group_sums(per_provider, ["symbol", "date"], ["score_w", "confidence_w", "weight", "count"])
        .select(
            "symbol",
            "date",
            (pl.col("score_w") / pl.col("weight")).alias("score"),
            (pl.col("confidence_w") / pl.col("weight")).alias("confidence"),
            pl.col("count").cast(pl.Int64),
        )
        .join(
            weighted.group_by("symbol", "date").agg(
                pl.col("provider").unique().sort().str.join(",").alias("providers"),
                pl.col("source").unique().sort().str.join("+").alias("source"),
            ),
            on=["symbol", "date"],
        )
    )
    stub = stub.join(combined, on=["symbol", "date"], how="anti")
    return pl.concat(
        [combined.select(list(DAILY_SCHEMA)).cast(DAILY_SCHEMA), stub.select(list(DAILY_SCHEMA)).cast(DAILY_SCHEMA)]
    ).sort("symbol", "date")


def parse_snapshot_lines(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse landed JSON Lines into ``sentiment_bronze`` rows; returns ``(rows, rejected)``.

    ``lines`` has ``symbol`` (the folder), ``file_date`` (from the file name), ``text``,
    ``file`` and ``line``, and optionally ``problem``: a reason the source already found
    (e.g. ``not UTF-8``), which rejects the line as it is, its ``text`` (the bytes shown
    escaped) kept as the raw value. A line with ``score`` is a provider snapshot (score in
    [-1, 1], confidence in [0, 1], default 1.0 when absent; both finite: ``NaN``,
    ``Infinity`` and ``1e400`` are rejected); a line with ``headline`` instead is scored by
    VADER. Anything else is rejected with its reason, the line's text as raw value.
    """
    rows: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    for rec in lines.iter_rows(named=True):
        base = {"symbol": rec["symbol"], "date": rec["file_date"], "file": rec["file"], "line": rec["line"]}
        if rec.get("problem"):
            bad.append({**base, "reason": rec["problem"], "text": rec["text"]})
            continue
        try:
            obj = json.loads(rec["text"])
            if not isinstance(obj, dict):
                raise ValueError("a line must be a JSON object")
            rows.append(_snapshot_row(obj, base))
        except ValueError as exc:
            bad.append({**base, "reason": f"invalid sentiment line: {exc}", "text": rec["text"]})
    parsed = pl.DataFrame(rows, schema=_BRONZE_SCHEMA) if rows else pl.DataFrame(schema=_BRONZE_SCHEMA)
    rejected_rows = pl.DataFrame(
        bad,
        schema={
            "symbol": pl.String,
            "date": pl.Date,
            "file": pl.String,
            "line": pl.Int64,
            "reason": pl.String,
            "text": pl.String,
        },
    ).with_columns(pl.lit(LANDING_SOURCE).alias("source"))
    return parsed, quarantine_records(rejected_rows, "sentiment_bronze", ["text"])


_BRONZE_SCHEMA = {
    "symbol": pl.String,
    "date": pl.Date,
    "provider": pl.String,
    "score": pl.Float64,
    "confidence": pl.Float64,
    "headline": pl.String,
    "timestamp": pl.String,
    "source": pl.String,
    "file": pl.String,
    "line": pl.Int64,
}


def _snapshot_row(obj: dict[str, object], base: dict[str, object]) -> dict[str, object]:
    symbol = obj.get("symbol", base["symbol"])
    if symbol != base["symbol"]:
        raise ValueError(f"symbol {symbol!r} does not match its folder {base['symbol']!r}")
    day = base["date"]
    if "date" in obj:
        try:
            day = dt.date.fromisoformat(str(obj["date"]))
        except ValueError:
            raise ValueError(f"date {obj['date']!r} is not YYYY-MM-DD") from None
        if day != base["date"]:
            raise ValueError(f"date {day} does not match the file's date {base['date']}")
    timestamp = obj.get("timestamp")
    row = {**base, "date": day, "timestamp": None if timestamp is None else str(timestamp), "headline": None}
    if "score" in obj:
        score = _number(obj, "score", -1.0, 1.0)
        confidence = _number(obj, "confidence", 0.0, 1.0) if "confidence" in obj else 1.0
        providers = obj.get("providers") or []
        if not isinstance(providers, list) or not all(isinstance(p, str) and p for p in providers):
            raise ValueError("providers must be a list of names")
        name = "+".join(sorted(providers)) or "unknown"
        return {**row, "provider": name, "score": score, "confidence": confidence, "source": "snapshot"}
    headline = obj.get("headline")
    if isinstance(headline, str) and headline.strip():
        score, confidence = vader_score(headline)
        return {
            **row,
            "provider": "vader",
            "score": score,
            "confidence": confidence,
            "headline": headline,
            "source": "vader",
        }
    raise ValueError("neither a score nor a headline")


def _number(obj: dict[str, object], key: str, lo: float, hi: float) -> float:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} {value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{key} {value} is not finite")
    if not lo <= number <= hi:
        raise ValueError(f"{key} {value} outside [{lo}, {hi}]")
    return number
