"""The registry's day loop (``registry.judge_range``) on a constructed case whose decisions are known:
two symbols with the same alternating returns, one of whose bars stop, and three models (naive,
a skilled one that starts late, and a classifier that is always wrong)."""

import datetime as dt
import json
import math

import polars as pl
import pytest

from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.core import registry
from tests.core.forecast_settings import settings

D = dt.date
Z80, Z95 = 1.2815515655446004, 1.959963984540054
SESSIONS = [D(2024, 1, 1) + dt.timedelta(d) for d in range(120) if (D(2024, 1, 1) + dt.timedelta(d)).weekday() < 5]
SKILLED_FROM = 30  # the index of the first origin of "skilled"'s forecasts
WINDOW, MIN_SCORED = 5, 4
SETTINGS = settings(models=("naive", "skilled", "direction_classifier"), replay_min_confidence=0.6)
RULES = registry.GateRules(
    min_scored=MIN_SCORED,
    min_balanced_accuracy=0.55,
    group_floor=0.0,
    min_group_count=1_000,
    max_drifted_share=1.0,
    dm_alpha=0.05,
    coverage_alpha=0.001,
)


def daily_return(i: int) -> float:
    """Into session i: alternating up and down, of varied size (1.5% to 2.3%)."""
    return (1 if i % 2 else -1) * (0.015 + 0.002 * (i % 5))


PRICES = [100.0 * math.exp(sum(daily_return(j) for j in range(1, i + 1))) for i in range(len(SESSIONS))]
STOPPED = 33  # BBB's last bar: its forecasts after it are never scored
CLOSES = pl.DataFrame({"symbol": "AAA", "date": SESSIONS, "close": PRICES}).vstack(
    pl.DataFrame({"symbol": "BBB", "date": SESSIONS[: STOPPED + 1], "close": PRICES[: STOPPED + 1]})
)


def forecast(symbol: str, i: int, model: str) -> dict[str, object]:
    """The forecast from session i of the next session's return: naive says 0 (no call);
    skilled is off by 0.05% and calls the direction at 90%; the classifier calls it wrong at 80%."""
    actual = daily_return(i + 1)
    point, prob_up = {
        "naive": (0.0, 0.5),
        "skilled": (actual + 0.0005, 0.9 if actual > 0 else 0.1),
        "direction_classifier": (0.0, 0.2 if actual > 0 else 0.8),
    }[model]
    sd = 0.02
    return {
        "symbol": symbol,
        "date": SESSIONS[i],
        "model": model,
        "horizon": 1,
        "target_date": SESSIONS[i + 1],
        "point": point,
        "volatility": sd,
        "lower_80": point - Z80 * sd,
        "upper_80": point + Z80 * sd,
        "lower_95": point - Z95 * sd,
        "upper_95": point + Z95 * sd,
        "prob_up": prob_up,
    }


FORECASTS = pl.DataFrame(
    [
        forecast(s, i, m)
        for s in ("AAA", "BBB")
        for i in range(len(SESSIONS) - 1)
        for m in SETTINGS.models
        if m != "skilled" or i >= SKILLED_FROM
    ]
)
REGIMES = pl.DataFrame({"symbol": "AAA", "date": SESSIONS, "market_regime": "bull"})
REGIMES = REGIMES.vstack(REGIMES.with_columns(symbol=pl.lit("BBB")))
FEATURES = pl.DataFrame({"symbol": "AAA", "date": SESSIONS, "rsi_14": [float(i) for i in range(len(SESSIONS))]})
FEATURES = FEATURES.vstack(FEATURES.with_columns(symbol=pl.lit("BBB")))


def judge(first: int, last: int, previous: pl.DataFrame) -> registry.Judgement:
    """The loop over sessions first..last, given what a run reads: the forecasts before the
    first origin from its window's ``forecasts_from`` on."""
    origins = SESSIONS[first : last + 1]
    window = fc.history_window(SESSIONS, origins, SETTINGS, WINDOW)
    return registry.judge_range(
        FORECASTS.filter(pl.col("date").is_between(origins[0], origins[-1])),
        FORECASTS.filter(pl.col("date").is_between(window.forecasts_from, SESSIONS[first - 1])),
        CLOSES,
        REGIMES,
        FEATURES,
        previous,
        sessions=SESSIONS[: last + 1],
        origins=origins,
        symbols=["AAA", "BBB"],
        sectors={"AAA": "Technology", "BBB": "Technology"},
        drift={},
        settings=SETTINGS,
        score_window=WINDOW,
        rules=RULES,
    )


def champion_decided(i: int) -> str:
    """Session i's champion: skilled once it has MIN_SCORED scored forecasts in the window
    (its first target is the session after its first origin), naive before."""
    return "skilled" if i - SKILLED_FROM >= MIN_SCORED else "naive"


NAIVE_BEFORE = pl.DataFrame(
    {"as_of": [SESSIONS[24]] * 2, "symbol": ["AAA", "BBB"], "horizon": 1, "model": "naive", "champion": True}
)


def of(symbol: str, judged: registry.Judgement) -> registry.Judgement:
    """The part of a judgement about one symbol."""
    return registry.Judgement(
        *(getattr(judged, f).filter(pl.col("symbol") == symbol) for f in ("forecasts", "scores", "decisions", "replay"))
    )


def test_the_skilled_model_is_champion_once_it_has_enough_scores_and_its_forecasts_say_so_a_day_later() -> None:
    first, last = 25, 45
    judged = of("AAA", judge(first, last, NAIVE_BEFORE))

    champions = judged.decisions.filter(pl.col("champion")).sort("as_of")
    assert champions.get_column("as_of").to_list() == SESSIONS[first : last + 1]  # one a day
    assert champions.get_column("model").to_list() == [champion_decided(i) for i in range(first, last + 1)]
    approved = judged.decisions.filter(pl.col("model") == "skilled").sort("as_of").get_column("approved")
    assert approved.to_list() == [i - SKILLED_FROM >= MIN_SCORED for i in range(first, last + 1)]
    classifier = judged.decisions.filter(pl.col("model") == "direction_classifier")
    assert not classifier.get_column("approved").any()  # always wrong: no directional skill
    assert all("directional_skill" in json.loads(f) for f in classifier.get_column("checks_failed"))

    # the champion in force on a day is the previous session's decision (the stored one first)
    flagged = judged.forecasts.filter(pl.col("is_champion")).sort("date")
    in_force = ["naive", *(champion_decided(i) for i in range(first, last))]
    assert flagged.get_column("date").to_list() == SESSIONS[first : last + 1]
    assert flagged.get_column("model").to_list() == in_force
    made = FORECASTS.filter(pl.col("date").is_between(SESSIONS[first], SESSIONS[last]) & (pl.col("symbol") == "AAA"))
    assert judged.forecasts.height == made.height


def test_scores_are_the_range_targets_with_their_rolling_window() -> None:
    first, last = 25, 45
    scores = of("AAA", judge(first, last, NAIVE_BEFORE)).scores
    assert scores.get_column("target_date").min() == SESSIONS[first]
    assert scores.get_column("target_date").max() == SESSIONS[last]
    naive = scores.filter(pl.col("model") == "naive").sort("target_date")
    assert naive.get_column("window_n").to_list() == [WINDOW] * (last - first + 1)
    skilled = scores.filter(pl.col("model") == "skilled").sort("target_date")
    # its first target is session SKILLED_FROM + 1; its window fills up from there
    assert skilled.get_column("window_n").to_list() == [min(i - SKILLED_FROM, WINDOW) for i in range(31, last + 1)]
    actual = [daily_return(i) for i in range(31, last + 1)]
    assert skilled.get_column("actual").to_list() == pytest.approx(actual, abs=1e-12)
    assert set(scores.get_column("regime")) == {"bull"}


def test_replay_rows_are_the_classifiers_confident_mistakes_with_their_features() -> None:
    first, last = 25, 45
    replay = of("AAA", judge(first, last, NAIVE_BEFORE)).replay.sort("target_date")
    # every call of the classifier is wrong at confidence 0.8: one row per target in the range
    assert replay.get_column("target_date").to_list() == SESSIONS[first : last + 1]
    assert replay.get_column("confidence").to_list() == pytest.approx([0.8] * (last - first + 1))
    origins = SESSIONS[first - 1 : last]
    assert [json.loads(f) for f in replay.get_column("features")] == [
        {"rsi_14": float(SESSIONS.index(d))} for d in origins
    ]
    labels = replay.select("predicted_label", "true_label").rows()
    assert all(p != t for p, t in labels)


def test_a_symbol_whose_bars_stopped_is_judged_by_its_last_scored_row_until_it_leaves_the_window() -> None:
    decisions = of("BBB", judge(25, 45, NAIVE_BEFORE)).decisions.filter(pl.col("model") == "naive").sort("as_of")
    window_n = [json.loads(m)["window_n"] for m in decisions.get_column("metrics")]
    # the last scored target is session 33: the days to 37 read its row (over 29..33), later days none
    assert window_n == [WINDOW] * (STOPPED + WINDOW - 1 - 25 + 1) + [0] * (45 - (STOPPED + WINDOW - 1))
    assert set(decisions.filter(pl.col("champion")).get_column("as_of")) == set(SESSIONS[25:46])


def test_a_day_alone_equals_the_same_day_inside_the_backfill() -> None:
    first, last = 25, 45
    backfill = judge(first, last, NAIVE_BEFORE)
    for i in (first, 33, 34, 35, 36, 37, 38, last):
        before = NAIVE_BEFORE if i == first else backfill.decisions.filter(pl.col("as_of") == SESSIONS[i - 1])
        alone = judge(i, i, before)
        day = SESSIONS[i]
        for frame, column in (("decisions", "as_of"), ("forecasts", "date"), ("scores", "target_date")):
            got = getattr(alone, frame).sort(pl.all())
            expected = getattr(backfill, frame).filter(pl.col(column) == day).sort(pl.all())
            assert got.equals(expected), (day, frame)
        expected = backfill.replay.filter(pl.col("target_date") == day)
        assert alone.replay.equals(expected), day
