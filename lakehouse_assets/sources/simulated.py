"""Simulated landing data for scale tests: calibrate on the bundled S&P 500, write landing files.

The model is :mod:`lakehouse_assets.core.simulate`; this module fits its market factor and
writes what it draws in the landing formats the pipeline reads:

* ``{out}/ohlcv/{SYMBOL}/1day/{YYYY}-01_to_{YYYY}-12.csv`` (the name lets a run skip other years): ``timestamp,open,high,low,close,volume,source``
  with ``source`` = ``simulated`` (the landing reader keeps it as the bronze ``source``);
* ``{out}/sentiment/{SYMBOL}/{YYYY-MM-DD}.jsonl`` (optional): one snapshot per symbol on the
  first session of each week, ``metadata`` ``{"simulated": true}``;
* ``{out}/sectors.yaml``: each symbol's sector, in the format of ``config/sectors.yaml``.

Same arguments and seed give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.simulate import (
    SECTORS,
    MarketModel,
    Universe,
    simulate_universe,
    standardize,
    weekly_sentiment,
)

SOURCE = "simulated"
CALIBRATION = ("arch.sp500", "^GSPC")


@dataclass(frozen=True)
class Written:
    files: int
    rows: int
    sessions: int
    first: dt.date
    last: dt.date


def sp500_log_returns() -> np.ndarray:
    """Daily log returns (fractions) of the bundled S&P 500 closes."""
    from lakehouse_assets.sources.ohlcv import bundled_bars

    close = bundled_bars([CALIBRATION], "America/New_York")["close"].to_numpy()
    return np.diff(np.log(close))


@lru_cache(maxsize=1)
def calibrated_market() -> MarketModel:
    """GARCH(1,1) with constant mean fitted by ``arch`` on the S&P 500 log returns x 100."""
    from arch import arch_model

    fit = arch_model(sp500_log_returns() * 100.0, mean="Constant", vol="GARCH", p=1, q=1, dist="normal").fit(disp="off")
    p = fit.params
    return MarketModel(
        mu=float(p["mu"]),
        omega=float(p["omega"]),
        alpha=float(p["alpha[1]"]),
        beta=float(p["beta[1]"]),
        residuals=standardize(np.asarray(fit.std_resid)),
    )


def simulation_sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    return TradingCalendar("XNYS", start).sessions(start, end)


def write_simulation(
    out: str | Path,
    n_symbols: int,
    sessions: list[dt.date],
    seed: int,
    sentiment: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Written:
    """Simulate and write every file under ``out``; returns what was written."""
    root = Path(out)
    universe = simulate_universe(calibrated_market(), n_symbols, len(sessions), seed)
    files, rows = _write_bars(root / "ohlcv", universe, sessions, progress)
    if sentiment:
        f, r = _write_sentiment(root / "sentiment", universe, sessions, seed)
        files, rows = files + f, rows + r
    _write_sectors(root / "sectors.yaml", universe)
    return Written(files + 1, rows, len(sessions), sessions[0], sessions[-1])


def _write_bars(
    root: Path, u: Universe, sessions: list[dt.date], progress: Callable[[str], None] | None
) -> tuple[int, int]:
    days = pl.Series("timestamp", sessions, dtype=pl.Date)
    years = days.dt.year()
    files = 0
    for i, symbol in enumerate(u.symbols):
        frame = pl.DataFrame(
            {
                "timestamp": days.dt.strftime("%Y-%m-%d"),
                "open": u.open[:, i],
                "high": u.high[:, i],
                "low": u.low[:, i],
                "close": u.close[:, i],
                "volume": u.volume[:, i].astype(np.int64),
                "source": SOURCE,
                "year": years,
            }
        )
        folder = root / symbol / "1day"
        folder.mkdir(parents=True, exist_ok=True)
        for (year,), part in frame.partition_by("year", as_dict=True, maintain_order=True).items():
            part.drop("year").write_csv(folder / f"{year}-01_to_{year}-12.csv", float_precision=4, line_terminator="\n")
            files += 1
        if progress and (i + 1) % 100 == 0:
            progress(f"{i + 1}/{len(u.symbols)} symbols written")
    return files, len(sessions) * len(u.symbols)


def _write_sentiment(root: Path, u: Universe, sessions: list[dt.date], seed: int) -> tuple[int, int]:
    weeks = [d.isocalendar()[:2] for d in sessions]
    rows = np.array([t for t in range(len(sessions)) if t == 0 or weeks[t] != weeks[t - 1]])
    score, confidence = weekly_sentiment(u.log_return, rows, seed)
    for i, symbol in enumerate(u.symbols):
        folder = root / symbol
        folder.mkdir(parents=True, exist_ok=True)
        for j, t in enumerate(rows):
            day = sessions[t].isoformat()
            line = {
                "symbol": symbol,
                "date": day,
                "timestamp": f"{day}T21:00:00Z",
                "score": float(score[j, i]),
                "confidence": float(confidence[j, i]),
                "providers": [SOURCE],
                "metadata": {"simulated": True},
            }
            (folder / f"{day}.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    count = len(rows) * len(u.symbols)
    return count, count


def _write_sectors(path: Path, u: Universe) -> None:
    by_sector: dict[str, list[str]] = {name: [] for name in SECTORS}
    for symbol, sector in zip(u.symbols, u.sectors, strict=True):
        by_sector[sector].append(symbol)
    lines = [
        "# GICS sector of each simulated symbol (lakehouse simulate); same format as config/sectors.yaml.",
        "indexes: []",
        "sectors:",
        *[f"  {name}: [{', '.join(symbols)}]" for name, symbols in by_sector.items() if symbols],
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
