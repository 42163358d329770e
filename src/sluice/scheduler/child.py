"""How a run's child process is started without a secret on its command line.

Any local user can read every process's argv (`ps`, /proc/PID/cmdline); a process's
environment is readable only by its owner and root. So the config database URL, which may hold
a password, goes to `sluice runs execute ID` through SLUICE_CONFIG_DB in the child's
environment, never as `--config-db URL`; the secret key stays where the user put it (the
inherited SLUICE_SECRET_KEY, or the key file, whose absolute path is passed on so a child
finds the same file).
"""

from __future__ import annotations

import os
import sys

from sluice.config.database import ENV_CONFIG_DB
from sluice.config.secrets import ENV_KEY, ENV_KEY_FILE, key_file_for


def run_process(config_url: str, run_id: int) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of the child that executes `run_id`."""
    command = [sys.executable, "-m", "sluice", "runs", "execute", str(run_id)]
    env = dict(os.environ)
    env[ENV_CONFIG_DB] = config_url
    if ENV_KEY not in env:
        env[ENV_KEY_FILE] = str(key_file_for(config_url).absolute())
    return command, env
