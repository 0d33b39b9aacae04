"""Trading-day arithmetic on an exchange calendar (``exchange_calendars``).

A *session* is a trading day of the exchange, expressed as a ``datetime.date`` in the
exchange's local time zone. Weekends, holidays and unscheduled closures are not sessions.
"""

from __future__ import annotations

import bisect
import datetime as dt
from functools import cached_property

import exchange_calendars as xcals
import polars as pl


class TradingCalendar:
    """Sessions of one exchange between ``first`` and the calendar's horizon.

    ``exchange_calendars`` knows holidays about a year ahead; asking beyond its horizon
    raises ``ValueError`` rather than guessing.
    """

    def __init__(self, code: str = "XNYS", first: dt.date = dt.date(1986, 1, 1)) -> None:
        self.code = code
        self._cal = xcals.get_calendar(code, start=first.isoformat())
        self.timezone = str(self._cal.tz)

    @cached_property
    def _sessions(self) -> list[dt.date]:
        return [ts.date() for ts in self._cal.sessions]

    @cached_property
    def _session_set(self) -> frozenset[dt.date]:
        return frozenset(self._sessions)

    @property
    def first_session(self) -> dt.date:
        return self._sessions[0]

    @property
    def last_session(self) -> dt.date:
        return self._sessions[-1]

    def is_session(self, day: dt.date) -> bool:
        self._check(day)
        return day in self._session_set

    def sessions(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Sessions ``start <= s <= end`` in order."""
        lo = bisect.bisect_left(self._sessions, start)
        hi = bisect.bisect_right(self._sessions, end)
        return self._sessions[lo:hi]

    def previous_session(self, day: dt.date) -> dt.date | None:
        """The last session strictly before ``day`` (None before the calendar's start)."""
        i = bisect.bisect_left(self._sessions, day)
        return self._sessions[i - 1] if i > 0 else None

    def open_time(self, day: dt.date) -> dt.datetime:
        """The session's opening time, in UTC."""
        opening: dt.datetime = self._cal.session_open(day).to_pydatetime()
        return opening

    def close_time(self, day: dt.date) -> dt.datetime:
        """The session's closing time (early closes included), in UTC."""
        closing: dt.datetime = self._cal.session_close(day).to_pydatetime()
        return closing

    def shift_sessions(self, day: dt.date, n: int) -> dt.date:
        """The session ``n`` sessions before (n < 0) or after (n > 0) ``day``.

        ``day`` itself need not be a session: ``n = 0`` is the last session on or before
        it, ``n = 1`` the first session after it, and so on in both directions.
        """
        i = bisect.bisect_right(self._sessions, day) - 1 + n
        return self._sessions[min(max(i, 0), len(self._sessions) - 1)]

    def non_sessions(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Weekdays in ``[start, end]`` that are not sessions (holidays and closures)."""
        days = (start + dt.timedelta(d) for d in range((end - start).days + 1))
        return [d for d in days if d.weekday() < 5 and d not in self._session_set]

    def holiday_name(self, day: dt.date) -> str | None:
        """The holiday's name when the calendar knows one (e.g. ``Good Friday``)."""
        import pandas as pd

        hits = self._cal.regular_holidays.holidays(day, day, return_name=True)
        if len(hits):
            return str(hits.iloc[0])
        if pd.Timestamp(day) in set(self._cal.adhoc_holidays):
            return "unscheduled closure"
        return None

    def previous_session_frame(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Frame ``date -> prev_date`` for the sessions in ``[start, end]``."""
        days = self.sessions(start, end)
        return pl.DataFrame(
            {"date": days, "prev_date": [self.previous_session(d) for d in days]},
            schema={"date": pl.Date, "prev_date": pl.Date},
        )

    def _check(self, day: dt.date) -> None:
        if day > self.last_session + dt.timedelta(days=7):
            raise ValueError(f"{day} is beyond the {self.code} calendar's horizon ({self.last_session})")
