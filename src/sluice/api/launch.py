"""Starting a created run in the background, so a request never waits for a run to execute."""

from __future__ import annotations

import threading
import time

from sluice.config.records import RunRecord
from sluice.config.repository import ConfigRepository
from sluice.core.errors import SluiceError
from sluice.scheduler.daemon import Launcher


class LaunchError(SluiceError):
    """The run's process could not be started (the run is failed, its lock released)."""


class RunLauncher:
    """Hands created runs to a Launcher (child processes, as the scheduler does) from many
    request threads at once."""

    def __init__(self, launcher: Launcher, repo: ConfigRepository) -> None:
        self._launcher = launcher
        self._repo = repo
        self._lock = threading.Lock()

    def start(self, run: RunRecord) -> None:
        with self._lock:
            # Polling the children reaps the ones that have exited, so none lingers as a zombie.
            self._launcher.running()
            try:
                self._launcher.start(run.id)
            except OSError as exc:
                reason = f"its process could not be started: {exc.strerror}"
                self._repo.fail_abandoned(run, reason)
                raise LaunchError(f"run {run.id} failed to start: {reason}") from None

    def running(self) -> list[int]:
        with self._lock:
            return self._launcher.running()

    def wait(self, timeout: float) -> list[int]:
        """Wait up to `timeout` seconds for the started runs' processes; return those still
        going. The API does not wait on shutdown: its runs finish on their own."""
        deadline = time.monotonic() + timeout
        while (going := self.running()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return going
