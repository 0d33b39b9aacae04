"""``deploy/process_group.py`` (what ``make ui`` runs under): a stop is a stop."""

import signal
import subprocess
import sys
import time

from tests.conftest import REPO

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    """The grace counts from the stop, not from the command's exit: ``dagster dev`` shutting
    down its servers after SIGTERM kept the whole group alive past 10 s."""
    wrapper = [sys.executable, str(REPO / "deploy" / "process_group.py"), sys.executable, "-c", STUBBORN]
    with subprocess.Popen(wrapper, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "up\n"
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 128 + signal.SIGKILL
    assert time.monotonic() - began < 5 + 2  # GRACE_SECONDS and a margin
