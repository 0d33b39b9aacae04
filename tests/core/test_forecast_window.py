"""How far back a forecasting run reads (``forecasting.history_window``), on a constructed calendar."""

import dataclasses
import datetime as dt
import itertools

import pytest

from lakehouse_assets.core import forecasting as fc
from tests.core.forecast_settings import settings

D = dt.date
HOLIDAYS = {D(2018, 7, 4), D(2018, 9, 3), D(2018, 11, 22), D(2018, 12, 25)}
# weekdays but four holidays: Labor Day makes Tuesday 2018-09-04 the first session of its week and month
SESSIONS = [
    D(2018, 6, 1) + dt.timedelta(days)
    for days in range(214)
    if (D(2018, 6, 1) + dt.timedelta(days)).weekday() < 5 and D(2018, 6, 1) + dt.timedelta(days) not in HOLIDAYS
]
SETTINGS = settings(horizons=(1, 5), models=("naive", "direction_classifier"), fit_window=5, min_observations=3)


def oracle(sessions: list[dt.date], first: dt.date, settings: fc.ForecastSettings, score_window: int) -> dict:
    """The window written out: periods by their calendar keys, shifts by list positions
    (held at the first session, as the exchange calendar holds them)."""
    key = {
        "daily": lambda d: d,
        "weekly": lambda d: d.isocalendar()[:2],
        "monthly": lambda d: (d.year, d.month),
    }

    def period_start(day: dt.date, cadence: str) -> dt.date:
        return min(s for s in sessions if key[cadence](s) == key[cadence](day))

    def shift(day: dt.date, n: int) -> dt.date:
        return sessions[max(sessions.index(day) + n, 0)]

    first_refit = period_start(first, settings.cadence)
    first_selection = period_start(first_refit, settings.order_selection)
    rollback_refit = period_start(shift(first_refit, -1), settings.cadence)  # the classifier's previous refit
    since = min(first_selection, rollback_refit)
    judged_from = shift(first, -(score_window - 1))
    scored_from = shift(judged_from, -(score_window - 1))
    return {
        "first_refit": first_refit,
        "since": since,
        "start": min(shift(since, -settings.fit_window), shift(first, -(2 * score_window + max(settings.horizons)))),
        "reports_from": shift(since, -1),
        "previous": shift(first, -1) if first != sessions[0] else None,
        "judged_from": judged_from,
        "scored_from": scored_from,
        "forecasts_from": shift(scored_from, -max(settings.horizons)),
    }


def test_a_range_from_a_month_and_week_boundary_reads_the_window_of_the_rollback_refit() -> None:
    """bench/README.md "Library issues" 1: 2018-10-01 is the first session of October and of
    its week. The month's order search and the week's refit fall on it, and the classifier's
    rollback rule fits the refit before it, 2018-09-24, whose window (2018-09-18..24) the bars
    must cover: the windows of 2018-10-01's own fits start on 2018-09-25, and the scores need
    closes from 2018-09-24 on."""
    settings = dataclasses.replace(SETTINGS, horizons=(1,))
    window = fc.history_window(SESSIONS, [D(2018, 10, 1), D(2018, 10, 2)], settings, score_window=2)
    assert window == fc.HistoryWindow(
        first_refit=D(2018, 10, 1),
        since=D(2018, 9, 24),  # the rollback refit, a week before the order search
        start=D(2018, 9, 17),  # 5 sessions (fit_window) before 2018-09-24
        reports_from=D(2018, 9, 21),  # a drift flag on Friday asks for a refit on Monday
        previous=D(2018, 9, 28),
        judged_from=D(2018, 9, 28),
        scored_from=D(2018, 9, 27),
        forecasts_from=D(2018, 9, 26),
    )
    bars = SESSIONS[SESSIONS.index(window.start) :]
    assert fc.window_start(bars, window.since, settings.fit_window) == D(2018, 9, 18)


def test_mid_month_the_order_search_is_the_earliest_fit_and_the_scores_reach_further() -> None:
    settings = dataclasses.replace(SETTINGS, fit_window=3)
    window = fc.history_window(SESSIONS, [D(2018, 10, 17)], settings, score_window=6)
    # Wednesday: the week's refit is Monday the 15th, the month's order search the 1st, the
    # refit before the 15th the 8th
    assert (window.first_refit, window.since) == (D(2018, 10, 15), D(2018, 10, 1))
    assert (window.judged_from, window.scored_from, window.forecasts_from) == (
        D(2018, 10, 10),
        D(2018, 10, 3),
        D(2018, 9, 26),
    )
    # 2 x 6 + 5 = 17 sessions before the 17th, earlier than the order search's window (from 9-26)
    assert window.start == D(2018, 9, 24)


def test_a_week_starting_after_a_holiday_refits_on_its_first_session() -> None:
    window = fc.history_window(SESSIONS, [D(2018, 9, 5)], SETTINGS, score_window=2)
    # Labor Day: Tuesday the 4th starts the week and the month; the refit before it is Monday the 27th
    assert (window.first_refit, window.since, window.reports_from) == (D(2018, 9, 4), D(2018, 8, 27), D(2018, 8, 24))


def test_shifts_before_the_first_session_are_held_there() -> None:
    window = fc.history_window(SESSIONS, [SESSIONS[0]], SETTINGS, score_window=3)
    assert window.previous is None
    assert window.start == window.forecasts_from == window.since == SESSIONS[0]


@pytest.mark.parametrize(
    ("cadence", "order_selection"), [("daily", "weekly"), ("weekly", "monthly"), ("monthly", "monthly")]
)
@pytest.mark.parametrize(("fit_window", "score_window"), [(5, 3), (40, 2), (2, 20)])
def test_every_first_origin_against_the_oracle(
    cadence: str, order_selection: str, fit_window: int, score_window: int
) -> None:
    settings = dataclasses.replace(SETTINGS, cadence=cadence, order_selection=order_selection, fit_window=fit_window)
    for first, last in itertools.pairwise(SESSIONS):
        window = fc.history_window(SESSIONS, [first, last], settings, score_window)
        assert dataclasses.asdict(window) == oracle(SESSIONS, first, settings, score_window), first
