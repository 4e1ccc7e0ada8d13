"""Helpers the library's test modules share: the repository's root and the command line run
as a user runs it (a subprocess, its output and exit status)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cnnviz(*args, cwd=REPO, env_extra=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "cnnviz", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
