"""Stop the epoch of a browser session that has gone for good (not a page of the app).

An epoch runs in a thread of its own, so closing the browser tab does not stop it: on a
workshop's shared 2-core server, an abandoned epoch would slow every other attendee for
minutes. Streamlit has no "session ended" hook, but its runtime says whether a session
still has a browser connected (`Runtime.is_active_session`, documented as thread-safe).
A browser that reconnects (a network blip, a laptop lid) gets its session back, so the
epoch is only stopped once the session has been without a browser for a grace period,
$CNNVIZ_ABANDONED_AFTER seconds (default 60). Stopping is the ordinary Stop: the epoch ends
after the batch in progress and the model stays consistent ("after batch k of n").

The model itself is freed when Streamlit forgets the session (its session storage keeps a
disconnected session for about two minutes, for reconnects) and no epoch holds it.

Under streamlit.testing there is no runtime and no browser to lose: `watch` does nothing.
"""

from __future__ import annotations

import os
import threading
import time

from streamlit import runtime
from streamlit.logger import get_logger
from streamlit.runtime.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

GRACE_ENV = "CNNVIZ_ABANDONED_AFTER"
DEFAULT_GRACE_SECONDS = 60.0
POLL_SECONDS = 1.0

log = get_logger("cnnviz.session_guard")

_lock = threading.Lock()
_watched: dict[str, list] = {}  # session id -> [job, monotonic time first seen without a browser, runtime]
_thread: threading.Thread | None = None


def grace_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(GRACE_ENV, DEFAULT_GRACE_SECONDS)))
    except ValueError:
        return DEFAULT_GRACE_SECONDS


def watch(job) -> None:
    """Stop `job` if this script run's browser session goes away while the job runs."""
    global _thread
    ctx = get_script_run_ctx()
    server = runtime.get_instance() if runtime.exists() else None
    if ctx is None or type(server) is not Runtime:  # streamlit.testing runs on a stand-in
        return
    with _lock:
        _watched[ctx.session_id] = [job, None, server]
        if _thread is None or not _thread.is_alive():
            # Runs while any job is watched and ends by itself when none is.
            _thread = threading.Thread(target=_patrol, name="cnnviz-session-guard", daemon=True)
            _thread.start()


def _patrol() -> None:
    global _thread
    while True:
        time.sleep(POLL_SECONDS)
        with _lock:
            if not _watched:
                _thread = None
                return
            watched = list(_watched.items())
        for session_id, entry in watched:
            if _check(session_id, entry):
                with _lock:
                    if _watched.get(session_id) is entry:
                        del _watched[session_id]


def _check(session_id: str, entry: list) -> bool:
    """Look at one watched job; True when it needs no more watching."""
    job, gone_since, server = entry
    if not job.is_alive():
        if job.stop_requested and gone_since is not None:
            log.warning("cnnviz: the abandoned epoch %s has ended; the model is %s", job.epoch, job.status().model_state)
        return True
    if gone_since is None or not job.stop_requested:
        if server.is_active_session(session_id):
            entry[1] = None
            return False
    now = time.monotonic()
    if gone_since is None:
        entry[1] = now
    elif not job.stop_requested and now - gone_since >= grace_seconds():
        log.warning("cnnviz: stopping epoch %s: its browser session has been gone for %.0f s", job.epoch, now - gone_since)
        job.stop()
    return False
