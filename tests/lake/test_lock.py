"""The lake's writer lock with real processes: one holder, re-entry, stale takeover, races."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse_assets.lake.lock import LOCK_NAME, LakeBusyError, LakeLock

HOLD = """
import sys, time
from lakehouse_assets.lake.lock import LakeLock
lock = LakeLock(sys.argv[1], sys.argv[2])
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def _holder_process(root: Path, run_id: str, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), run_id, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_told_who_holds_the_lake(tmp_path: Path) -> None:
    holder = _holder_process(tmp_path, "aaaaaaaa-1111", 60)
    try:
        with pytest.raises(LakeBusyError, match=r"lake is busy: run aaaaaaaa since \d{4}-\d\d-\d\d .* UTC"):
            LakeLock(str(tmp_path), "bbbbbbbb-2222").acquire()
        assert json.loads((tmp_path / LOCK_NAME).read_text())["run_id"] == "aaaaaaaa-1111"  # untouched
    finally:
        holder.kill()
        holder.wait()


def test_a_live_holder_is_refused_before_any_instance_is_asked(tmp_path: Path) -> None:
    """``refuse_if_live`` answers from the lock file and the process table alone (the CLI asks
    it before opening the Dagster instance, which the holder may be writing), and takes nothing."""
    asked: list[str] = []

    def finished(run_id: str) -> bool | None:
        asked.append(run_id)
        return None

    holder = _holder_process(tmp_path, "aaaaaaaa-1111", 60)
    try:
        with pytest.raises(LakeBusyError, match=r"lake is busy: run aaaaaaaa since"):
            LakeLock(str(tmp_path), "bbbbbbbb-2222", finished).refuse_if_live()
        assert asked == []
    finally:
        holder.kill()
        holder.wait()
    LakeLock(str(tmp_path), "bbbbbbbb-2222", finished).refuse_if_live()  # its process is gone: not live
    assert json.loads((tmp_path / LOCK_NAME).read_text())["run_id"] == "aaaaaaaa-1111"  # nothing taken
    LakeLock(str(tmp_path / "free"), "bbbbbbbb-2222", finished).refuse_if_live()  # nobody holds it


def test_the_same_run_re_enters_and_keeps_its_start(tmp_path: Path) -> None:
    first = LakeLock(str(tmp_path), "run-1").acquire()
    time.sleep(0.01)
    again = LakeLock(str(tmp_path), "run-1").acquire()
    assert again.since == first.since and again.heartbeat > first.heartbeat


def test_a_dead_holder_unknown_to_the_instance_is_taken_over(tmp_path: Path) -> None:
    holder = _holder_process(tmp_path, "dead-run", 0)
    holder.wait()  # exited without releasing: kill -9 leaves the same file
    assert LakeLock(str(tmp_path), "next-run").acquire().run_id == "next-run"


def test_a_run_the_instance_knows_in_progress_is_respected_even_between_steps(tmp_path: Path) -> None:
    holder = _holder_process(tmp_path, "multiprocess-run", 0)
    holder.wait()  # a step process has ended; the run goes on (the instance says so)
    with pytest.raises(LakeBusyError):
        LakeLock(str(tmp_path), "other", finished=lambda run_id: False).acquire()
    # ... until the instance records it as finished
    assert LakeLock(str(tmp_path), "other", finished=lambda run_id: run_id == "multiprocess-run").acquire()


def test_a_silent_holder_is_stale_after_the_heartbeat_window(tmp_path: Path) -> None:
    holder = _holder_process(tmp_path, "hung-run", 60)  # alive but no heartbeat (e.g. on another machine)
    try:
        path = tmp_path / LOCK_NAME
        record = json.loads(path.read_text())
        record["heartbeat"] = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=300)).isoformat()
        path.write_text(json.dumps(record))
        with pytest.raises(LakeBusyError):
            LakeLock(str(tmp_path), "other", stale_seconds=600).acquire()
        assert LakeLock(str(tmp_path), "other", stale_seconds=120).acquire().run_id == "other"
    finally:
        holder.kill()
        holder.wait()


def test_the_heartbeat_keeps_a_long_step_alive_and_release_ends_the_hold(tmp_path: Path) -> None:
    lock = LakeLock(str(tmp_path), "long-run")
    with lock.held(heartbeat_seconds=0.05) as taken:
        time.sleep(0.3)
        beat = json.loads((tmp_path / LOCK_NAME).read_text())["heartbeat"]
        assert beat > taken.heartbeat
    assert (tmp_path / LOCK_NAME).exists()  # the hold outlives a step: the run's next step re-enters
    LakeLock(str(tmp_path), "someone-else").release()  # not theirs to release
    assert (tmp_path / LOCK_NAME).exists()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_foreign_host_is_judged_by_its_heartbeat_only(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    record = {"run_id": "remote", "host": socket.gethostname() + "-other", "pid": 1, "since": now, "heartbeat": now}
    (tmp_path / LOCK_NAME).write_text(json.dumps(record))
    with pytest.raises(LakeBusyError, match="pid 1 on "):
        LakeLock(str(tmp_path), "local").acquire()


def _race(root: str, run_id: str, start: float, queue: multiprocessing.Queue) -> None:
    time.sleep(max(0.0, start - time.time()))
    try:
        LakeLock(root, run_id).acquire()
        queue.put((run_id, "won"))
        time.sleep(2)  # stay alive so the others cannot take the lock over as dead
    except LakeBusyError:
        queue.put((run_id, "busy"))


def test_runs_starting_together_have_exactly_one_winner(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start = time.time() + 3  # after the spawned interpreters have imported
    racers = [context.Process(target=_race, args=(str(tmp_path), f"run-{i}", start, queue)) for i in range(6)]
    for racer in racers:
        racer.start()
    outcomes = [queue.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join()
    assert sorted(o for _, o in outcomes) == ["busy"] * 5 + ["won"]
    winner = next(r for r, o in outcomes if o == "won")
    assert json.loads((tmp_path / LOCK_NAME).read_text())["run_id"] == winner
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
