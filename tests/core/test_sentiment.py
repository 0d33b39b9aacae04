import datetime as dt
import json
import math
import random

import polars as pl

from lakehouse_assets.core import sentiment

D = dt.date(2024, 1, 2)


def bronze(rows: list[tuple[str, str, float, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(s, D, p, score, conf, src) for s, p, score, conf, src in rows],
        schema=["symbol", "date", "provider", "score", "confidence", "source"],
        orient="row",
    )


def expected(*symbols: str) -> pl.DataFrame:
    return pl.DataFrame({"symbol": list(symbols), "date": [D] * len(symbols)})


def test_weighted_average_over_the_providers_that_answered() -> None:
    # the original system's worked example: (0.45*0.6 + 0.62*0.4) / 1.0 = 0.518
    rows = bronze([("AAA", "newsapi", 0.45, 0.8, "snapshot"), ("AAA", "twitter", 0.62, 0.9, "snapshot")])
    out = sentiment.daily_sentiment(rows, expected("AAA"), {"newsapi": 0.6, "twitter": 0.4}, 1.0)
    row = out.row(0, named=True)
    assert math.isclose(row["score"], 0.518, rel_tol=1e-12)
    assert math.isclose(row["confidence"], 0.8 * 0.6 + 0.9 * 0.4, rel_tol=1e-12)  # weighted: 0.84
    assert (row["count"], row["providers"], row["source"]) == (2, "newsapi,twitter", "snapshot")


def test_only_one_provider_answered_gets_all_the_weight() -> None:
    rows = bronze([("AAA", "twitter", 0.62, 0.9, "snapshot")])
    out = sentiment.daily_sentiment(rows, expected("AAA"), {"newsapi": 0.6, "twitter": 0.4}, 1.0)
    assert out.select("score", "confidence").row(0) == (0.62, 0.9)


def test_stub_where_nothing_landed_and_it_says_so() -> None:
    rows = bronze([("AAA", "vader", 0.5, 0.4, "vader"), ("AAA", "vader", -0.1, 0.2, "vader")])
    out = sentiment.daily_sentiment(rows, expected("AAA", "BBB"), {}, 1.0)
    assert out.rows() == [
        ("AAA", D, 0.2, 0.30000000000000004, 2, "vader", "vader"),
        ("BBB", D, 0.0, 0.0, 0, "stub", "stub"),
    ]


def test_with_nothing_landed_every_bar_gets_the_stub_once_sorted() -> None:
    nothing = bronze([("AAA", "vader", 0.5, 0.4, "vader")]).clear()
    bars = pl.concat([expected("BBB", "AAA"), expected("AAA")])  # a repeated bar gets one stub
    out = sentiment.daily_sentiment(nothing, bars, {"vader": 1.0}, 1.0)
    assert out.schema == sentiment.DAILY_SCHEMA
    assert out.rows() == [("AAA", D, 0.0, 0.0, 0, "stub", "stub"), ("BBB", D, 0.0, 0.0, 0, "stub", "stub")]


def test_the_stub_has_one_row_per_distinct_bar_key_whatever_the_order_and_repeats() -> None:
    # oracle: unique then sort, on keys drawn with many repeats (adjacent once sorted, also across symbols)
    rng = random.Random(3)
    days = [dt.date(2024, 1, 2) + dt.timedelta(days=rng.randrange(6)) for _ in range(400)]
    bars = pl.DataFrame({"symbol": [rng.choice("ABC") for _ in days], "date": days})
    nothing = bronze([]).clear()
    out = sentiment.daily_sentiment(nothing, bars, {}, 1.0)
    assert out.select("symbol", "date").rows() == bars.unique().sort("symbol", "date").rows()
    assert out.height < bars.height and out["source"].unique().to_list() == [sentiment.STUB]


def test_a_provider_weighing_nothing_or_unnamed_gives_the_stub() -> None:
    rows = bronze([("AAA", "muted", 0.5, 0.4, "snapshot"), ("BBB", None, 0.5, 0.4, "snapshot")])
    out = sentiment.daily_sentiment(rows, expected("AAA", "BBB"), {"muted": 0.0}, 1.0)
    assert out["source"].to_list() == ["stub", "stub"]


def test_combined_snapshot_provider_weighs_the_sum_of_its_parts() -> None:
    assert sentiment.provider_weight("newsapi+twitter", {"newsapi": 0.6, "twitter": 0.4}, 1.0) == 1.0
    assert sentiment.provider_weight("other", {"newsapi": 0.6}, 0.25) == 0.25


def lines(*texts: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "symbol": "AAA",
            "file_date": D,
            "text": list(texts),
            "file": "AAA/2024-01-02.jsonl",
            "line": range(1, len(texts) + 1),
        },
        schema=sentiment_lines_schema(),
    )


def sentiment_lines_schema() -> dict[str, pl.DataType]:
    from lakehouse_assets.sources.sentiment import LINES_SCHEMA

    return LINES_SCHEMA


def test_snapshot_and_headline_lines_parse_and_bad_lines_are_rejected() -> None:
    good_snapshot = {
        "symbol": "AAA",
        "date": "2024-01-02",
        "timestamp": "2024-01-02T10:00:00+05:30",
        "score": 0.45,
        "confidence": 0.8,
        "providers": ["newsapi"],
        "metadata": {"article_count": 3},
    }
    rows, rejected = sentiment.parse_snapshot_lines(
        lines(
            json.dumps(good_snapshot),
            json.dumps({"headline": "Shares soar after record profits and great guidance"}),
            "{not json",
            json.dumps({"score": 1.5, "confidence": 0.5}),
            json.dumps({"symbol": "AAA", "date": "2024-01-03", "score": 0.1}),
            json.dumps({"metadata": {}}),
        )
    )
    assert rows.select("provider", "source", "line").rows() == [("newsapi", "snapshot", 1), ("vader", "vader", 2)]
    vader = rows.filter(pl.col("source") == "vader").row(0, named=True)
    assert vader["score"] > 0.5 and 0 < vader["confidence"] <= 1
    reasons = dict(zip(rejected["line"], rejected["reason"], strict=True))
    assert reasons[3].startswith("invalid sentiment line: ")
    assert reasons[4] == "invalid sentiment line: score 1.5 outside [-1.0, 1.0]"
    assert reasons[5] == "invalid sentiment line: date 2024-01-03 does not match the file's date 2024-01-02"
    assert reasons[6] == "invalid sentiment line: neither a score nor a headline"
    assert json.loads(rejected.filter(pl.col("line") == 3)["raw"].item()) == {"text": "{not json"}


def test_vader_scores_match_the_lexicon() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    text = "Company misses estimates, shares plunge on weak outlook"
    reference = SentimentIntensityAnalyzer().polarity_scores(text)
    assert sentiment.vader_score(text) == (reference["compound"], 1.0 - reference["neu"])
    assert reference["compound"] < 0


def test_scores_must_be_finite_and_lines_rejected_while_reading_keep_their_reason() -> None:
    texts = [
        '{"score": NaN}',
        '{"score": Infinity}',
        '{"score": -Infinity}',
        '{"score": 1e400}',
        '{"confidence": NaN, "score": 0.1}',
    ]
    _, rejected = sentiment.parse_snapshot_lines(lines(*texts))
    assert rejected.sort("line")["reason"].to_list() == [
        "invalid sentiment line: score nan is not finite",
        "invalid sentiment line: score inf is not finite",
        "invalid sentiment line: score -inf is not finite",
        "invalid sentiment line: score inf is not finite",
        "invalid sentiment line: confidence nan is not finite",
    ]
    assert json.loads(rejected.sort("line")["raw"][3])["text"] == '{"score": 1e400}'
    read = lines('{"headline": "caf\\xe9"}', json.dumps({"score": 0.2})).with_columns(
        problem=pl.Series(["not UTF-8: byte 0xe9 at offset 17", None])
    )
    rows, rejected = sentiment.parse_snapshot_lines(read)
    assert rows["line"].to_list() == [2]
    assert rejected.select("line", "reason").rows() == [(1, "not UTF-8: byte 0xe9 at offset 17")]


def test_the_daily_score_is_exact_whatever_the_rows_order_and_on_every_call() -> None:
    """Many headlines a day: polars' parallel group_by sums varied in the last bit from call
    to call, so a re-run rewrote sentiment_daily (and features). Oracle: an explicit loop."""
    import random

    rng = random.Random(7)
    providers = {"newsapi": 0.6, "twitter": 0.4, "vader": 1.0}
    days = [D + dt.timedelta(days=i) for i in range(40)]
    rows = [
        (
            f"S{rng.randrange(30):02d}",
            rng.choice(days),
            rng.choice(list(providers)),
            rng.uniform(-1, 1),
            rng.uniform(0, 1),
            "snapshot",
        )
        for _ in range(120_000)
    ]
    frame = pl.DataFrame(rows, schema=["symbol", "date", "provider", "score", "confidence", "source"], orient="row")
    keys = frame.select("symbol", "date").unique()
    first = sentiment.daily_sentiment(frame, keys, providers, 1.0)
    for seed in range(6):
        again = sentiment.daily_sentiment(frame.sample(fraction=1.0, shuffle=True, seed=seed), keys, providers, 1.0)
        assert again.equals(first)  # bit for bit
    # the explicit loop: per provider the mean, then the weight-renormalised mean
    sums: dict[tuple, list[float]] = {}
    for symbol, day, provider, score, _, _ in rows:
        sums.setdefault((symbol, day, provider), []).append(score)
    by_day: dict[tuple, list[tuple[float, float]]] = {}
    for (symbol, day, provider), scores in sums.items():
        by_day.setdefault((symbol, day), []).append((math.fsum(scores) / len(scores), providers[provider]))
    for row in first.sample(200, seed=1).iter_rows(named=True):
        parts = by_day[(row["symbol"], row["date"])]
        want = math.fsum(s * w for s, w in parts) / math.fsum(w for _, w in parts)
        assert math.isclose(row["score"], want, rel_tol=1e-12, abs_tol=1e-15)
