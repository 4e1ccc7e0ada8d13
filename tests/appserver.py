"""The app as the README starts it, for the browser tests and the benchmarks: a folder of
photos to point it at, a free port, its health, and a clean end."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# The Training page's start button says how many epochs a click runs: "Train one epoch", "Train 2 epochs".
TRAIN_BUTTON = re.compile(r"^Train (one epoch|\d+ epochs)$")

REPO = Path(__file__).resolve().parent.parent
# The servers running now, by address: their logs, for a failed browser test's report.
LOGS: dict[str, Path] = {}


def copy_photos(train: Path, dest: Path, per_class: int, start: int = 0) -> Path:
    """`dest` filled with cat.N.jpg and dog.N.jpg, N from `start`, copied from a Kaggle `train` folder."""
    dest.mkdir(parents=True, exist_ok=True)
    for label in ("cat", "dog"):
        for i in range(start, start + per_class):
            shutil.copy(train / f"{label}.{i}.jpg", dest / f"{label}.{i}.jpg")
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    """Streamlit's own health endpoint answers "ok"."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def running_app(env: dict[str, str], log_path: Path, timeout: float = 90, root: Path = REPO):
    """`python -m cnnviz_app` (the README's command) on a free port with `env` added; yields (url, process)
    once it answers its health check, and stops it afterwards. Its output goes to `log_path`.
    `root` is the checkout to run: another one (an older commit) runs its own code, since the
    working directory comes first on the server's import path."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*launcher(root), "--server.headless", "true", "--server.port", str(port)],
            cwd=root, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s")
            time.sleep(0.5)
        LOGS[url] = log_path
        yield url, proc
    finally:
        LOGS.pop(url, None)
        stop(proc)


def launcher(root: Path) -> list[str]:
    """The README's command, or `streamlit run` for an older checkout that has no launcher."""
    if (root / "cnnviz_app" / "__main__.py").exists():
        return [sys.executable, "-m", "cnnviz_app"]
    return [sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server, and kill it if it does not go within 15 s."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
