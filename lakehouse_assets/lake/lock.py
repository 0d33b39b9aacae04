"""One writer per lake at a time: a lake-level lock held by a Dagster run.

Two runs writing the same lake each read a table, compute and MERGE; every MERGE commits,
but the second run computed from a snapshot without the first's rows, so rows go missing
and ledgers stay open (issue 16, case 3). Delta's optimistic commits keep each table
consistent; they cannot make two runs' reads and writes serial. So a run holds the lake:

* The lock is a small JSON file, ``<lake>/_lakehouse_writer.json``: the holder's run id,
  host, pid, since when it holds the lake and its last heartbeat. Every step of the run
  takes it again (steps may run in separate processes): the same run id re-enters.
* Another run finds it held and fails at once with :class:`LakeBusyError`,
  ``lake is busy: run 1a2b3c4d since 2026-11-30 21:30:01 UTC (...)``.
* A lock is stale, and is taken over, when its run is known to the Dagster instance and
  has finished; when it was taken by an earlier run of this very process; when its
  process is gone and no instance knows the run; or when its heartbeat (refreshed every
  ``HEARTBEAT_SECONDS`` while a step runs) is older than ``STALE_SECONDS`` (the holder
  died: ``kill -9``, a lost machine). Nobody removes a lock by hand; ``release`` ends it
  early.
* Check-and-take happens under ``fcntl.flock`` of a guard file next to the lock, so two
  runs starting together cannot both win.

The lock file lives in the lake for a local lake. An ``s3://`` lake has no ``flock``: its
lock lives under ``$DAGSTER_HOME/lake-locks/`` (one file per lake URI), which serializes
the writers that share that Dagster home; writers on other machines are not serialized
(docs/operations.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

LOCK_NAME = "_lakehouse_writer.json"
HEARTBEAT_SECONDS = 15.0
STALE_SECONDS = 120.0


class LakeBusyError(RuntimeError):
    """Another run holds the lake."""


@dataclass(frozen=True)
class Holder:
    run_id: str
    host: str
    pid: int
    since: str  # ISO 8601, UTC
    heartbeat: str  # ISO 8601, UTC

    def describe(self, now: dt.datetime) -> str:
        since = dt.datetime.fromisoformat(self.since).strftime("%Y-%m-%d %H:%M:%S UTC")
        beat = (now - dt.datetime.fromisoformat(self.heartbeat)).total_seconds()
        return f"run {self.run_id[:8]} since {since} (pid {self.pid} on {self.host}, last heartbeat {beat:.0f} s ago)"


def lock_path(root: str) -> Path:
    """Where the lock of the lake at ``root`` lives (see the module docstring)."""
    if "://" not in root:
        return Path(root) / LOCK_NAME
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")
    return home / "lake-locks" / (hashlib.sha1(root.encode()).hexdigest()[:16] + ".json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LakeLock:
    """The lock of one lake, taken for one run.

    ``finished(run_id)`` tells whether a run is known to have ended (True), is known to be
    in progress (False) or is unknown (None); the Dagster resource answers it from the
    instance.
    """

    def __init__(
        self,
        root: str,
        run_id: str,
        finished: Callable[[str], bool | None] = lambda _: None,
        stale_seconds: float = STALE_SECONDS,
    ) -> None:
        self.path, self.run_id, self.finished, self.stale_seconds = lock_path(root), run_id, finished, stale_seconds

    def holder(self) -> Holder | None:
        try:
            return Holder(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):  # a torn or foreign file: nobody holds the lake through it
            return None

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".guard"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def _write(self, holder: Holder) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(holder)))
        os.replace(temporary, self.path)  # atomic: readers see the old or the new holder

    def stale(self, holder: Holder, now: dt.datetime) -> bool:
        """Whether ``holder`` no longer holds the lake, though its lock file remains."""
        finished = self.finished(holder.run_id)
        if finished:
            return True
        if holder.host == socket.gethostname():
            if holder.pid == os.getpid():  # an earlier run of this process: one process runs one run at a time
                return True
            if finished is None and not _alive(holder.pid):  # died, and no instance says its run goes on
                return True
        return (now - dt.datetime.fromisoformat(holder.heartbeat)).total_seconds() > self.stale_seconds

    def refuse_if_live(self) -> None:
        """Raise :class:`LakeBusyError` when another run's process holds the lake on this machine,
        alive, within its heartbeat: busy whatever an instance would say, so a caller can ask
        before opening the instance (which that holder may be writing). Takes nothing; only
        :meth:`acquire` takes the lake."""
        now, held = _now(), self.holder()
        if (
            held is not None
            and held.run_id != self.run_id
            and held.host == socket.gethostname()
            and held.pid != os.getpid()
            and _alive(held.pid)
            and (now - dt.datetime.fromisoformat(held.heartbeat)).total_seconds() <= self.stale_seconds
        ):
            raise LakeBusyError(self._busy(held, now))

    def _busy(self, held: Holder, now: dt.datetime) -> str:
        return (
            f"lake is busy: {held.describe(now)}; one run writes a lake at a time, retry when it has "
            f"finished (a holder gone silent for {self.stale_seconds:.0f} s is taken over)"
        )

    def acquire(self) -> Holder:
        """Take the lake for this run (re-entrant), or raise :class:`LakeBusyError`."""
        with self._guard():
            now, held = _now(), self.holder()
            if held is not None and held.run_id != self.run_id and not self.stale(held, now):
                raise LakeBusyError(self._busy(held, now))
            since = held.since if held is not None and held.run_id == self.run_id else now.isoformat()
            mine = Holder(self.run_id, socket.gethostname(), os.getpid(), since, now.isoformat())
            self._write(mine)
            return mine

    def beat(self) -> bool:
        """Refresh the heartbeat; False if the lake is no longer ours (taken over as stale)."""
        with self._guard():
            held = self.holder()
            if held is None or held.run_id != self.run_id:
                return False
            self._write(Holder(held.run_id, held.host, os.getpid(), held.since, _now().isoformat()))
            return True

    def release(self) -> None:
        """End this run's hold (no-op if another run holds the lake)."""
        with self._guard():
            held = self.holder()
            if held is not None and held.run_id == self.run_id:
                self.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def held(self, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> Iterator[Holder]:
        """Acquire, keep the heartbeat going while the body runs; the hold outlives the body
        (the run's next step re-enters it) until ``release`` or the run's end."""
        holder = self.acquire()
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(heartbeat_seconds):
                if not self.beat():
                    return

        thread = threading.Thread(target=beat, name="lake-lock-heartbeat", daemon=True)
        thread.start()
        try:
            yield holder
        finally:
            stop.set()
            thread.join(timeout=5)
