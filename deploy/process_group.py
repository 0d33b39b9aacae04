"""Run a command as a process group that stops as a whole: ``python deploy/process_group.py CMD ARGS...``.

Why: ``dagster dev`` (``make ui``) does not stop on Ctrl-C while a run is going. Its
children are the webserver, the daemon and a code server, and the code server's run
worker spawns step processes, the forecasting pool's workers and a multiprocessing
``resource_tracker``. On SIGINT ``dagster dev`` exits, but the code servers and the
tracker lived on for tens of seconds (more after SIGTERM), holding the lake's lock and
the Dagster home.

So the command runs in a process group of its own (in the same session, so the terminal
stays its output), and every process it starts is in that group unless it asks for
another. SIGINT, SIGTERM and SIGHUP sent to this process are forwarded to the group; the
group gets ``GRACE_SECONDS`` to stop (enough for a run to record itself as interrupted),
then SIGKILL takes whatever is left. The same happens when the command exits by itself
and leaves processes behind. Exit status: the command's (128 + signal when killed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

GRACE_SECONDS = 5.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(pgid: int, deadline: float) -> None:
    """Wait for the group to empty until ``deadline`` (monotonic), then SIGKILL what is left."""
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)


def wait(child: subprocess.Popen[bytes], deadline: list[float]) -> int:
    """The command's exit status; once a stop is asked (``deadline`` set), the group is
    killed at the deadline even while the command itself is still shutting down (after
    SIGTERM, ``dagster dev`` waited on its servers for more than 10 s under load)."""
    while True:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return child.wait(timeout=0.1)
        if deadline and time.monotonic() >= deadline[0]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    # process_group=0: the child leads a new group, so a Ctrl-C at the terminal reaches this
    # process (in the terminal's foreground group) and is forwarded once, to the whole group
    child = subprocess.Popen(argv, process_group=0)
    deadline: list[float] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if not deadline:
            deadline.append(time.monotonic() + GRACE_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    code = wait(child, deadline)
    if group_alive(child.pid):  # exited by itself but left processes: ask them first
        if not deadline:
            forward(signal.SIGTERM, None)
        stop_group(child.pid, deadline[0])
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
