"""What ``lakehouse run`` changes in its own process: the collector, Dagster's SQLite files."""

import gc
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from lakehouse_assets.cli import main
from lakehouse_assets.defs.settings import sqlite_files_kept_open


def test_a_run_called_in_process_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    frozen = gc.get_freeze_count()
    assert main(["run", "--start", "2018-06-29", "--end", "2018-06-01", "--lake", str(tmp_path / "lake")]) == 2
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def test_sqlite_files_stay_open_so_closing_a_connection_does_not_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("PRAGMA journal_mode=WAL"))
        conn.execute(sa.text("create table events (n integer)"))
    assert not _wal(path).exists()  # the last connection closed: checkpointed, the WAL removed

    with sqlite_files_kept_open():
        for n in range(3):
            with engine.begin() as conn:  # as Dagster's storages write: a connection per write
                conn.execute(sa.text("insert into events values (:n)"), {"n": n})
            assert _wal(path).exists()  # ours is still open: no checkpoint at this close
            other = sqlite3.connect(path)  # committed rows are there for every other reader
            assert other.execute("select count(*) from events").fetchone() == (n + 1,)
            other.close()
    assert not _wal(path).exists()  # ours closed on the way out: checkpointed
    with engine.begin() as conn:
        conn.execute(sa.text("insert into events values (3)"))
    assert not _wal(path).exists()  # and the listener is gone
    assert sqlite3.connect(path).execute("select sum(n) from events").fetchone() == (6,)


def test_an_in_memory_database_is_left_alone() -> None:
    engine = sa.create_engine("sqlite://")
    with sqlite_files_kept_open(), engine.begin() as conn:
        assert conn.execute(sa.text("select 1")).scalar() == 1
