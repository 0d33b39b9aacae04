import datetime as dt

import pytest

from lakehouse_assets.core.calendar import TradingCalendar

D = dt.date


def test_good_friday_2024_is_not_a_session(calendar: TradingCalendar) -> None:
    assert not calendar.is_session(D(2024, 3, 29))
    assert calendar.is_session(D(2024, 3, 28))
    assert calendar.holiday_name(D(2024, 3, 29)) == "Good Friday"
    assert calendar.non_sessions(D(2024, 3, 25), D(2024, 4, 5)) == [D(2024, 3, 29)]


def test_sessions_skip_weekends_holidays_and_closures(calendar: TradingCalendar) -> None:
    week = calendar.sessions(D(2024, 3, 25), D(2024, 4, 2))
    assert week == [D(2024, 3, 25), D(2024, 3, 26), D(2024, 3, 27), D(2024, 3, 28), D(2024, 4, 1), D(2024, 4, 2)]
    # 2001-09-11..14: the exchange was closed after the attacks (an unscheduled closure)
    assert calendar.sessions(D(2001, 9, 10), D(2001, 9, 17)) == [D(2001, 9, 10), D(2001, 9, 17)]
    assert calendar.holiday_name(D(2001, 9, 12)) == "unscheduled closure"
    # 2018 had 251 NYSE sessions (incl. the 2018-12-05 national day of mourning closure)
    assert len(calendar.sessions(D(2018, 1, 1), D(2018, 12, 31))) == 251


def test_previous_and_shifted_sessions(calendar: TradingCalendar) -> None:
    assert calendar.previous_session(D(2024, 4, 1)) == D(2024, 3, 28)
    assert calendar.previous_session(D(2024, 3, 30)) == D(2024, 3, 28)
    assert calendar.shift_sessions(D(2024, 4, 1), -1) == D(2024, 3, 28)
    assert calendar.shift_sessions(D(2024, 3, 29), 0) == D(2024, 3, 28)
    assert calendar.shift_sessions(D(2024, 3, 29), 1) == D(2024, 4, 1)
    assert calendar.shift_sessions(D(2024, 3, 28), 1) == D(2024, 4, 1)  # the next session, over Good Friday
    assert calendar.shift_sessions(D(2024, 3, 28), 2) == D(2024, 4, 2)
    assert calendar.shift_sessions(D(2024, 4, 1), -5) == D(2024, 3, 22)
    frame = calendar.previous_session_frame(D(2024, 3, 28), D(2024, 4, 1))
    assert frame.rows() == [(D(2024, 3, 28), D(2024, 3, 27)), (D(2024, 4, 1), D(2024, 3, 28))]


def test_beyond_the_horizon_is_an_error(calendar: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="horizon"):
        calendar.is_session(calendar.last_session + dt.timedelta(days=400))


def test_shifting_before_the_first_session_stops_there(calendar: TradingCalendar) -> None:
    """A lookback window longer than the calendar starts at its first session (then every
    symbol is short of history there and is read from its first bar)."""
    first = calendar.first_session
    assert calendar.shift_sessions(calendar.shift_sessions(first, 740), -740) == first
    assert calendar.shift_sessions(calendar.shift_sessions(first, 10), -740) == first
    assert len(calendar.sessions(calendar.shift_sessions(D(2024, 4, 1), -740), D(2024, 4, 1))) == 741
