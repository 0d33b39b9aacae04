"""The forecasting step's read of stored fits, shaped for memory (two ``is_in`` instead of one OR
term per fit date), gives exactly the (symbol, fit date) pairs asked for."""

import datetime as dt

from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.defs import forecasting
from lakehouse_assets.lake.delta import Lake

D = dt.date
DAYS = [D(2018, 10, 1), D(2018, 10, 2), D(2018, 10, 3), D(2018, 10, 4), D(2018, 10, 5), D(2018, 10, 8)]


def test_stored_fits_are_the_pairs_asked_for(tmp_path) -> None:
    lake = Lake(tmp_path / "lake")
    fits = [
        fc.Fit(symbol, "naive", day, {"day": day.isoformat()}, 750, 0.1)
        for symbol in ("AAA", "BBB", "CCC")
        for day in DAYS[:3]
    ]
    forecasting._insert_fits(lake, fits)
    refits = {"AAA": {DAYS[0]}, "BBB": {DAYS[1], DAYS[2]}, "CCC": set()}
    states = forecasting._load_states(lake, ["AAA", "BBB", "CCC"], DAYS[0], DAYS[-1], refits)
    assert {s: sorted(k) for s, k in states.items()} == {
        "AAA": [("naive", DAYS[0])],
        "BBB": [("naive", DAYS[1]), ("naive", DAYS[2])],
        "CCC": [],
    }
    assert states["BBB"][("naive", DAYS[2])] == {"day": DAYS[2].isoformat()}
    every = forecasting._load_states(lake, ["AAA", "CCC"], DAYS[1], DAYS[-1])
    assert sorted(every["CCC"]) == [("naive", DAYS[1]), ("naive", DAYS[2])] and not every.get("BBB")
