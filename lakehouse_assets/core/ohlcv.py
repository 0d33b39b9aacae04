"""Daily OHLCV bars: column aliases, parsing, validation, de-duplication, log returns.

Conventions: prices are in the instrument's quote currency, volume in shares (float so
fractional units survive), ``log_return`` is the natural log of close over the previous
*session's* close (a fraction, not percent; null when that session has no bar).

Every function returns the rows it rejects next to the rows it keeps, as a frame of
quarantine records (see :mod:`lakehouse_assets.core.quarantine`), so nothing is dropped
silently. Every number kept is finite: ``NaN``, ``inf``, ``-inf`` and overflowing text
such as ``1e400`` are rejected with the text as delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.quarantine import quarantine_records

if TYPE_CHECKING:
    # a when/then chain's two stages; polars does not export them at its top level
    from polars.expr.whenthen import ChainedThen, Then

REQUIRED = ("timestamp", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
NUMERIC = (*PRICES, "volume")
ALIASES: dict[str, str] = {
    "time": "timestamp",
    "datetime": "timestamp",
    "date": "timestamp",
    "o": "open",
    "h": "high",
    "l": "low",
    "c": "close",
    "v": "volume",
    "vol": "volume",
}
LINEAGE = ("symbol", "source", "file", "line")
SUPERSEDED = "duplicate (symbol, date): superseded by a later row"
SOURCE_COLUMN = "source"  # optional in a delivery: the row's source lineage (e.g. ``simulated``)


class MissingColumnError(ValueError):
    """A delivery lacks a required column (after aliases are applied)."""

    def __init__(self, column: str, found: list[str]) -> None:
        self.column = column
        super().__init__(f"missing required column {column!r} (found: {', '.join(found) or 'none'})")


def normalize_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Lower-case, strip and de-alias the header; keep only the OHLCV columns.

    Raises MissingColumnError naming the first required column that is absent.
    """
    renamed: dict[str, str] = {}
    for name in frame.columns:
        key = name.strip().lower()
        target = ALIASES.get(key, key)
        if target in REQUIRED and target not in renamed.values():
            renamed[name] = target
    for column in REQUIRED:
        if column not in renamed.values():
            raise MissingColumnError(column, frame.columns)
    return frame.select([pl.col(src).alias(dst) for src, dst in renamed.items()]).select(REQUIRED)


def source_column(columns: list[str]) -> str | None:
    """The header of a delivery's optional ``source`` column (any case, spaces stripped), or None."""
    return next((name for name in columns if name.strip().lower() == SOURCE_COLUMN), None)


def parse_trading_date(values: pl.Expr, timezone: str) -> pl.Expr:
    """Trading date of a timestamp column given as text, in the exchange zone ``timezone``.

    Accepted: ``YYYY-MM-DD``; naive ``YYYY-MM-DD[ T]HH:MM[:SS[.f]]`` (already exchange-local,
    so its calendar day is the trading day); the same with an offset or ``Z`` (converted to
    the exchange zone first); Unix epoch seconds (10 digits) or milliseconds (13 digits).
    Anything else gives null.
    """
    return pl.coalesce(*_date_readings(values, timezone))


def trading_dates(timestamps: pl.Series, timezone: str) -> pl.Series:
    """:func:`parse_trading_date` of a column of timestamps, the same dates, faster.

    Each format tried costs a pass over every row, the zone conversions most; a delivery
    is almost always plain ``YYYY-MM-DD``, so that format is tried on every row and the
    others only on the rows it leaves undated.

    Examples
    --------
    >>> trading_dates(pl.Series(["2024-01-02", "2024-01-02T23:30:00Z", "x"]), "America/New_York").to_list()
    [datetime.date(2024, 1, 2), datetime.date(2024, 1, 2), None]
    """
    frame = timestamps.to_frame("timestamp")
    # a text that parses as YYYY-MM-DD holds no ``T`` or ``Z``: the first reading would parse it alike
    dates = frame.select(
        pl.col("timestamp").cast(pl.String).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    ).to_series()
    undated = dates.is_null()
    if undated.any():
        rest = frame.filter(undated).select(parse_trading_date(pl.col("timestamp"), timezone)).to_series()
        dates = dates.scatter(undated.arg_true(), rest)
    return dates.alias("date")


def numbers(values: pl.Series) -> pl.Series:
    """Floats of a column of numbers given as text, surrounding whitespace ignored; null where
    the text is missing or not a number (``NaN`` and ``inf`` are numbers: finiteness is a check).

    Stripping every text cost twice the parse; the text almost never has whitespace, so it
    is parsed as it is, and only the texts that do not parse are stripped and parsed again.

    Examples
    --------
    >>> numbers(pl.Series(["1.5", " 2 ", "", None, "x", "inf"])).to_list()
    [1.5, 2.0, None, None, None, inf]
    """
    text = values.cast(pl.String)
    parsed = text.cast(pl.Float64, strict=False)
    retry = parsed.is_null() & text.is_not_null()
    if retry.any():
        parsed = parsed.scatter(retry.arg_true(), text.filter(retry).str.strip_chars().cast(pl.Float64, strict=False))
    return parsed


def _date_readings(values: pl.Expr, timezone: str) -> list[pl.Expr]:
    """The formats of :func:`parse_trading_date`, in the order they are tried."""
    text = values.cast(pl.String).str.strip_chars()
    norm = text.str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00")
    digits = text.str.contains(r"^\d{9,13}$")
    epoch = pl.when(digits).then(text).cast(pl.Int64, strict=False)
    epoch_ms = pl.when(text.str.len_chars() >= 12).then(epoch).otherwise(epoch * 1000)
    return [
        norm.str.to_date("%Y-%m-%d", strict=False),
        norm.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False).dt.date(),
        norm.str.to_datetime("%Y-%m-%d %H:%M", strict=False).dt.date(),
        norm.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%z", strict=False, time_zone=timezone).dt.date(),
        pl.from_epoch(epoch_ms, time_unit="ms").dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.date(),
    ]


def parse_bars(
    raw: pl.DataFrame, timezone: str, *, calendar: TradingCalendar | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Type a delivery: trading ``date`` and float prices/volume.

    ``raw`` holds the REQUIRED columns (any dtype, usually text) and the LINEAGE columns.
    Returns ``(bars, rejected)``; a row is rejected (for the first reason that applies,
    with its values as delivered in ``raw``) when its timestamp is not a date, a value is
    missing, non-numeric or not finite (``NaN``, ``inf``, ``1e400``), or, given a
    ``calendar``, its date lies outside the calendar's range: before its first session
    (the first partition) or after its horizon, where no partition will ever read it.

    Examples
    --------
    >>> frame = pl.DataFrame(
    ...     {"timestamp": ["2024-01-02", "2024-01-03"], "open": ["10", "10"], "high": ["11", "inf"],
    ...      "low": ["9", "9"], "close": ["10.5", "NaN"], "volume": ["100", "100"],
    ...      "symbol": "AAA", "source": "t", "file": "a.csv", "line": [2, 3]}
    ... )
    >>> bars, rejected = parse_bars(frame, "America/New_York")
    >>> bars["close"].to_list(), rejected["reason"].to_list(), rejected["raw"].item()
    ([10.5], ["non-finite high: 'inf'"], '{"timestamp":"2024-01-03","open":"10","high":"inf","low":"9","close":"NaN","volume":"100"}')
    """
    typed = raw.with_columns(
        trading_dates(raw.get_column("timestamp"), timezone),
        pl.col("timestamp").cast(pl.String),
        *[numbers(raw.get_column(c)).alias(f"_{c}") for c in NUMERIC],
    )
    checks: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col("date").is_null(), pl.format("unparseable timestamp: '{}'", pl.col("timestamp").fill_null("")))
    ]
    if calendar is not None:
        checks += outside_calendar(calendar)
    for c in NUMERIC:
        # a missing value is one that does not parse either: one condition, two reasons, so the
        # check over every row strips no text (only the rejected rows' reasons do)
        text = pl.col(c).cast(pl.String).str.strip_chars()
        missing_or_not_a_number = (
            pl.when(text.is_null() | (text == ""))
            .then(pl.lit(f"missing {c}"))
            .otherwise(pl.format(f"non-numeric {c}: '{{}}'", pl.col(c).cast(pl.String)))
        )
        checks.append((pl.col(f"_{c}").is_null(), missing_or_not_a_number))
        checks.append((~pl.col(f"_{c}").is_finite(), pl.format(f"non-finite {c}: '{{}}'", pl.col(c).cast(pl.String))))
    good, bad = _split_by_reason(typed, checks)
    rejected = quarantine_records(bad, "ohlcv_bronze", REQUIRED)
    bars = (
        good.drop(*NUMERIC)
        .rename({f"_{c}": c for c in NUMERIC})
        .select("symbol", "date", "timestamp", *NUMERIC, "source", "file", "line")
    )
    return bars, rejected


OUTSIDE_CALENDAR = "date outside the calendar"
"""The rule (reason up to its ``:``) of a row dated where no partition will ever read it."""


def outside_calendar(calendar: TradingCalendar) -> list[tuple[pl.Expr, pl.Expr]]:
    """Checks (condition, reason) for a ``date`` before the calendar's first session or after
    its horizon. The reasons name the fixed first session, not the horizon, which moves
    every day: the same row gets the same reason (and quarantine id) on every run."""
    date, first = pl.col("date"), calendar.first_session
    return [
        (
            date < calendar.first_session,
            pl.format(f"{OUTSIDE_CALENDAR}: {{}} is before the {calendar.code} calendar's first session {first}", date),
        ),
        (
            date > calendar.last_session,
            pl.format(f"{OUTSIDE_CALENDAR}: {{}} is beyond the {calendar.code} calendar's horizon", date),
        ),
    ]


@dataclass(frozen=True)
class Screened:
    """A delivery screened for one partition range (see :func:`screen_delivery`)."""

    bars: pl.DataFrame
    """Typed bars dated in the range: what bronze holds for it."""
    quarantined: pl.DataFrame
    """Quarantine records of bronze: untypable rows of the range or undated, rows outside the calendar."""
    rejected: dict[str, int]
    """Rows of the delivery that will not reach ``ohlcv_daily``, by kind: ``parse`` (untypable,
    non-finite), ``outside calendar``, ``rules`` (price, volume and session rules) and
    ``duplicates`` (superseded by a later row of the files read in the same run: a file
    that repeats a bar, or files that overlap; re-deliveries that overlap a range count
    every run that reads both, until the older file leaves the landing)."""
    delivered: int
    """Rows of the delivery that concern the range: dated in it, undated, or outside the calendar."""


def screen_delivery(
    raw: pl.DataFrame, timezone: str, calendar: TradingCalendar, start: dt.date, end: dt.date
) -> Screened:
    """Type a raw delivery and account for every row that concerns ``[start, end]``.

    Rows dated in another partition range of the calendar are left for that range's run.
    Rows dated outside the calendar are rejected by every run that reads them, since no
    run would otherwise. The bars of the range are also put through :func:`validate_bars`
    (as ``ohlcv_daily`` will) so that the quarantine gate counts the rows the rules and the
    de-duplication will reject, not only the untypable ones; those rows are quarantined by
    ``ohlcv_daily``, not here.
    """
    bars, rejected = parse_bars(raw, timezone, calendar=calendar)
    in_range = pl.col("date").is_between(start, end)
    rejected = rejected.filter(pl.col("date").is_null() | in_range | pl.col("reason").str.starts_with(OUTSIDE_CALENDAR))
    bars = bars.filter(in_range)
    ruled = _ruled_out(bars, calendar)[1] if bars.height else pl.DataFrame(schema={"reason": pl.String})
    duplicates = ruled.filter(pl.col("reason") == SUPERSEDED).height
    outside = rejected.filter(pl.col("reason").str.starts_with(OUTSIDE_CALENDAR)).height
    counts = {
        "parse": rejected.height - outside,
        "outside calendar": outside,
        "rules": ruled.height - duplicates,
        "duplicates": duplicates,
    }
    return Screened(bars, rejected, counts, bars.height + rejected.height)


def keep_replaced(bars: pl.DataFrame, rejected: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """``bars`` plus the ``previous`` rows that a re-delivered file would lose to a bad row.

    ``previous`` holds what bronze had for the files now re-read. When a file comes back
    with a rejected row (say ``NaN`` for a close) for a (symbol, date) where it now has no
    good row, the file's earlier good row for that (symbol, date) is kept: the bad value
    goes to quarantine and replaces nothing. A row the file no longer holds at all is
    dropped as before (the delivery withdrew it). Returns ``bars``' columns.

    Examples
    --------
    >>> import datetime as dt
    >>> old = pl.DataFrame({"symbol": ["A", "A"], "date": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
    ...                     "file": "a.csv", "close": [10.0, 11.0]})
    >>> new = old.head(1).with_columns(close=pl.lit(10.5))
    >>> bad = pl.DataFrame({"symbol": ["A"], "date": [dt.date(2024, 1, 3)], "file": ["a.csv"]})
    >>> keep_replaced(new, bad, old)["close"].to_list()
    [10.5, 11.0]
    """
    key = ["symbol", "date", "file"]
    lost = rejected.filter(pl.col("date").is_not_null()).select(key).unique().join(bars.select(key), on=key, how="anti")
    kept = previous.join(lost, on=key, how="semi")
    return pl.concat([bars, kept.select(bars.columns).cast(bars.schema)]) if kept.height else bars


def validate_bars(bars: pl.DataFrame, calendar: TradingCalendar) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the bar rules and de-duplicate; returns ``(valid, rejected)``.

    Rules, in order (a row is rejected for the first it breaks): every value finite (rows
    typed before finiteness was required may still be in bronze); the date inside the
    calendar's range and a session of ``calendar``; every price > 0;
    ``high >= max(open, close)``; ``low <= min(open, close)``; ``volume >= 0``. Among valid
    rows with the same (symbol, date) the last delivered wins (order: ``ingest_order`` if
    present, else file then line); the others are rejected as superseded duplicates. A
    rejected row never supersedes a valid one.
    """
    if bars.is_empty():
        return bars, quarantine_records(bars.with_columns(reason=pl.lit(None, pl.String)), "ohlcv_daily", NUMERIC)
    valid, rejected_rows = _ruled_out(bars, calendar)
    return valid.sort("symbol", "date"), quarantine_records(rejected_rows, "ohlcv_daily", NUMERIC)


def _ruled_out(bars: pl.DataFrame, calendar: TradingCalendar) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`validate_bars` before sorting and quarantine records: ``(valid, rejected rows
    with their reason)``; :func:`screen_delivery` only counts the second."""
    dates = bars.get_column("date").unique().drop_nulls().to_list()
    first, last = calendar.first_session, calendar.last_session
    sessions = [d for d in dates if first <= d <= last and calendar.is_session(d)]
    checks = [
        *[(~pl.col(c).is_finite(), pl.format(f"non-finite {c}: {{}}", pl.col(c))) for c in NUMERIC],
        *outside_calendar(calendar),
        (~pl.col("date").is_in(sessions), pl.format("not a {} session: {}", pl.lit(calendar.code), pl.col("date"))),
        *[(pl.col(c) <= 0, pl.format(f"{c} <= 0: {{}}", pl.col(c))) for c in PRICES],
        (
            pl.col("high") < pl.max_horizontal("open", "close"),
            pl.format("high < max(open, close): {} < {}", pl.col("high"), pl.max_horizontal("open", "close")),
        ),
        (
            pl.col("low") > pl.min_horizontal("open", "close"),
            pl.format("low > min(open, close): {} > {}", pl.col("low"), pl.min_horizontal("open", "close")),
        ),
        (pl.col("volume") < 0, pl.format("volume < 0: {}", pl.col("volume"))),
    ]
    order = ["ingest_order"] if "ingest_order" in bars.columns else ["file", "line"]
    good, bad = _split_by_reason(bars.sort(order), checks)
    is_last = pl.struct("symbol", "date").is_last_distinct()  # a window over() took 10x longer
    good = good.with_columns(pl.when(is_last).then(None).otherwise(pl.lit(SUPERSEDED)).alias("reason"))
    rejected_rows = pl.concat([bad, good.filter(pl.col("reason").is_not_null())])
    return good.filter(pl.col("reason").is_null()).drop("reason"), rejected_rows


def add_log_return(bars: pl.DataFrame, previous_sessions: pl.DataFrame) -> pl.DataFrame:
    """Add ``log_return = ln(close / close of the previous session)``.

    ``previous_sessions`` maps ``date -> prev_date`` (see TradingCalendar); the previous
    close is looked up in ``bars`` itself, so pass bars that reach one session further
    back than the rows you keep. Missing previous bar: null, never an invented value.
    """
    prev = bars.select("symbol", pl.col("date").alias("prev_date"), pl.col("close").alias("_prev_close"))
    return (
        bars.join(previous_sessions, on="date", how="left")
        .join(prev, on=["symbol", "prev_date"], how="left")
        .with_columns((pl.col("close") / pl.col("_prev_close")).log().alias("log_return"))
        .drop("prev_date", "_prev_close")
    )


def _split_by_reason(frame: pl.DataFrame, checks: list[tuple[pl.Expr, pl.Expr]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(rows no check holds for, the other rows with the reason of the first check that holds)``,
    each in ``frame``'s order. The reasons (text built per row) are only built for the rows
    rejected: building them for every row of a large delivery cost more than the checks."""
    failed = frame.select(pl.any_horizontal(*[condition.fill_null(False) for condition, _ in checks])).to_series()
    if not failed.any():  # the usual delivery: no copy of every row
        return frame, frame.clear().with_columns(reason=pl.lit(None, pl.String))
    good = frame.filter(~failed)
    bad = frame.filter(failed).with_columns(_first_reason(checks))
    return good, bad


def _first_reason(checks: list[tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    """The reason of the first check that holds, else null."""
    (condition, reason), *rest = checks
    chain: Then | ChainedThen = pl.when(condition.fill_null(False)).then(reason)
    for condition, reason in rest:
        chain = chain.when(condition.fill_null(False)).then(reason)
    return chain.otherwise(pl.lit(None, pl.String)).alias("reason")
