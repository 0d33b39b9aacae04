"""Stopping a running statement (Ctrl-C, ``--timeout``) whatever the moment it comes."""

import threading
import time

import duckdb

from lakehouse_assets.lake import duck

ENDLESS = "select sum(a.range * b.range) from range(100000000) a, range(100000) b"


def test_a_stop_sent_before_the_statement_begins_still_stops_it() -> None:
    """One DuckDB interrupt sent before the statement begins is lost (the statement then
    runs on, and the process hung at exit on it); ``_stop`` keeps interrupting until the
    worker is done."""
    con = duckdb.connect()
    done = threading.Event()
    outcome: list[BaseException] = []

    def work() -> None:
        time.sleep(0.3)  # the statement begins after the first interrupt
        try:
            con.execute(ENDLESS).fetchall()
        except BaseException as exc:
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    began = time.monotonic()
    duck._stop(con, done)
    assert done.is_set() and time.monotonic() - began < 5
    assert [type(e).__name__ for e in outcome] == ["InterruptException"]
