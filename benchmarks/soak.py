"""A workshop-length soak: 100 browser sessions come and go on one server; what does it keep?

Starts the app as the README does (tests/appserver.py) on a copy of enough photos for the
Training page's workshop split (2,000 / 800). Headless Chromium then opens one browser
context per session (a separate Streamlit session, like a separate laptop), at most
`--alive` at once; as one leaves, the next arrives. Every session explores a photo in the
Layer Explorer (the sample photo's verdict, then a random validation photo's, and where it
looked); one in four also trains a workshop-size epoch on the Training page. The first
session is such a trainer: the server's RSS once its epoch has ended is "the first
visitor's", the yardstick.

Streamlit keeps a closed tab's session for `server.disconnectedSessionTTL` seconds (120 by
default) for a reconnect, and its session storage forgets expired sessions only when it is
next written to, that is when another session disconnects. So after the last session leaves,
the soak waits out that time, sends a visitor to Home and back out to make Streamlit forget
the expired ones, waits once more, and then opens presenter mode's room screen, whose caption
counts the session models and decoded photo sets still alive (cnnviz.census), and the room's
epochs. The server's RSS and thread count are read from /proc/<pid>/status every second
throughout, printed as a table and drawn as a PNG; the threads before and after the room are
read alike, once the server has been quiet (`quiet_reading`), and named from /proc too.

Targets: RSS after the last session has gone within 10% of the first visitor's; thread
count back to what it was once the first visitor's session had been forgotten; no session
model and no decoded photo set left.

    flock /tmp/cnnviz-cpu.lock .venv/bin/python -m benchmarks.soak               # 100 sessions, 4 alive
    .venv/bin/python -m benchmarks.soak --sessions 6 --alive 2 --per-class 40 --ttl 5

tests/browser/test_soak.py runs a short one (a few sessions) for its checks, not its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.attendees import (
    CHROMIUM, HOME_HEADING, exceptions, go, mb, open_app, percentile, print_rows, report, say, train_one_epoch,
)
from tests.appserver import copy_photos, healthy, running_app

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", REPO.parent / "shared" / "data" / "dogs-vs-cats"))
WORKSHOP_PER_CLASS = 1400  # (2,000 + 800) / 2: the Training page's workshop split, whole
TTL_OPTION = "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"  # server.disconnectedSessionTTL
DEFAULT_TTL = 120  # Streamlit's own default for that option
CENSUS = re.compile(r"In this server's memory now: (\d+) session model\(s\) and (\d+) decoded photo set\(s\)")
ROOM_SESSIONS = re.compile(r"(\d+) session\(s\) (?:have )?trained here")


# --- the server, from outside ------------------------------------------------------------------


def proc_status(pid: int) -> tuple[int, int]:
    """(RSS in bytes, threads) of process `pid`, from /proc/<pid>/status."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return int(fields["VmRSS"][0]) * 1024, int(fields["Threads"][0])


def thread_names(pid: int) -> dict[str, int]:
    """How many of the process's threads carry each name (/proc/<pid>/task/*/comm): TensorFlow
    names its own (tf_Compute, tf_data_...), Python's all read "python"."""
    names: dict[str, int] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            name = Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        names[name] = names.get(name, 0) + 1
    return names


async def quiet_reading(url: str, pid: int) -> dict:
    """The server's threads once it has been quiet, read the same way before and after the room.

    Starlette's worker threads (AnyIO's pool) outlive their work and are only pruned, once
    idle for 10 s, when the pool is next used. So: 11 s of quiet, then one request that uses
    the pool (Streamlit's own metrics, which also count the browser sessions still connected),
    then the count.
    """
    await asyncio.sleep(11)
    metrics = await asyncio.to_thread(fetch, f"{url}/_stcore/metrics?families=active_sessions")
    await asyncio.sleep(1)
    connected = re.search(r"^active_sessions (\d+)", metrics, re.M)
    return {"threads": proc_status(pid)[1], "names": thread_names(pid), "connected": int(connected.group(1)) if connected else None}


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


class Sampler(threading.Thread):
    """The server's RSS and threads every `every` seconds, with the sessions alive and the phase."""

    def __init__(self, pid: int, every: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int, int, int, str]] = []  # (s, rss, threads, alive, phase)
        self.alive, self.phase = 0, "start"
        self.started = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                rss, threads = proc_status(self.pid)
            except OSError:  # the server has gone
                return
            self.samples.append((time.monotonic() - self.started, rss, threads, self.alive, self.phase))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def window(self, phase: str) -> list[tuple[float, int, int, int, str]]:
        return [s for s in self.samples if s[4] == phase]


# --- the sessions ------------------------------------------------------------------------------


@dataclass
class Visit:
    index: int
    trains: bool
    explore_s: float | None = None  # open the app -> a validation photo's Grad-CAM
    epoch_s: float | None = None
    errors: list[str] = field(default_factory=list)


async def settle(page, timeout_ms: int) -> None:
    """Until Streamlit's script has stayed finished for three looks in a row (a rerun may follow a rerun)."""
    idle = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    quiet, waited = 0, 0
    while quiet < 3:
        if waited > timeout_ms:
            raise TimeoutError("the app kept running its script")
        quiet = quiet + 1 if await idle.count() == 1 else 0
        await page.wait_for_timeout(250)
        waited += 250


async def explore(page, timeout_ms: int) -> None:
    """The sample photo's verdict, then a random validation photo's verdict and where it looked."""
    await page.get_by_text("Verdict:").first.wait_for()
    await page.get_by_text("Validation image", exact=True).click()
    await page.get_by_text(re.compile(r"^Validation image \(0 to")).wait_for()
    await page.get_by_role("button", name="Random").click()
    await settle(page, timeout_ms)
    await page.get_by_text("Verdict:").first.wait_for()
    await page.get_by_role("tab", name="Where it looked").click()
    await page.get_by_text("Grad-CAM for").first.wait_for()


async def visit(browser, url: str, v: Visit, timeout_ms: int, epoch_timeout_ms: int, linger: float) -> None:
    t0 = time.monotonic()
    context, page = await open_app(browser, url, "Layer Explorer", timeout_ms)
    try:
        await explore(page, timeout_ms)
        v.explore_s = time.monotonic() - t0
        if v.trains:
            await go(page, "Training")
            t1 = await train_one_epoch(page)
            await page.get_by_text(re.compile(r"Epoch 1 finished in")).wait_for(timeout=epoch_timeout_ms)
            v.epoch_s = time.monotonic() - t1
        v.errors += [f"exception on the page: {e[:200]}" for e in await exceptions(page)]
        await asyncio.sleep(linger)
    finally:
        await context.close()


async def attend(browser, url, v: Visit, timeout_ms, epoch_timeout_ms, linger) -> None:
    try:
        await visit(browser, url, v, timeout_ms, epoch_timeout_ms, linger)
        say(f"session {v.index} {'trained and ' if v.trains else ''}left" + (f": epoch {v.epoch_s:.0f} s" if v.epoch_s else ""))
    except Exception as exc:  # recorded and reported; the others go on
        v.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        say(f"session {v.index} failed: {v.errors[-1]}")


async def passer_by(browser, url: str) -> None:
    """A visitor to Home who leaves at once: their disconnect makes Streamlit forget the expired sessions."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.get_by_role("heading", name=HOME_HEADING).wait_for(timeout=120_000)
    finally:
        await context.close()


async def forget_closed_sessions(browser, url: str, ttl: int, sampler: Sampler, phase: str) -> None:
    """Wait until Streamlit may forget the closed sessions, and make it do so."""
    sampler.phase = f"{phase}: waiting out the session TTL"
    await asyncio.sleep(ttl + 2)
    await passer_by(browser, url)
    await asyncio.sleep(3)


async def observe(browser, url: str, timeout_ms: int) -> dict:
    """Presenter mode's room screen in a fresh session: the census caption and the room's count."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = await context.new_page()
        page.set_default_timeout(timeout_ms)
        await page.goto(url)
        await page.get_by_role("heading", name=HOME_HEADING).wait_for()
        await page.get_by_text("Presenter mode").click()
        await page.get_by_role("heading", name=re.compile(r"^1\. Data")).wait_for()
        for screen in range(2, 7):
            await settle(page, timeout_ms)  # mid-rerun, the screen's old Next button is still on the page beside the new one
            await page.get_by_role("button", name="Next").click()
            await page.get_by_role("heading", name=re.compile(rf"^{screen}\. ")).wait_for()
        caption = page.get_by_text(CENSUS).first
        await caption.wait_for()
        census = CENSUS.search(await caption.inner_text())
        room = ROOM_SESSIONS.search(await page.locator('[data-testid="stMain"]').inner_text())
        return {
            "models": int(census.group(1)),
            "decoded": int(census.group(2)),
            "sessions_trained": int(room.group(1)) if room else None,
            "errors": await exceptions(page),
        }
    finally:
        await context.close()


async def soak(url: str, pid: int, visits: list[Visit], alive: int, ttl: int, sampler: Sampler, timeout_ms: int,
               epoch_timeout_ms: int, seed: int) -> dict:
    from playwright.async_api import async_playwright

    rng = random.Random(seed)
    marks: dict[str, float] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            # The first visitor, alone: TensorFlow imported, the network built, an epoch trained.
            sampler.phase, sampler.alive = "first visitor", 1
            await attend(browser, url, visits[0], timeout_ms, epoch_timeout_ms, linger=0)
            first_visitor = proc_status(pid)[0]
            sampler.alive = 0
            await forget_closed_sessions(browser, url, ttl, sampler, "first visitor gone")
            sampler.phase = "idle after the first visitor"
            before = await quiet_reading(url, pid)
            marks["load"] = time.monotonic() - sampler.started

            # The room: sessions arrive as others leave, at most `alive` at once.
            sampler.phase = "sessions"
            slots = asyncio.Semaphore(alive)
            tasks = []

            async def one(v: Visit) -> None:
                try:
                    sampler.alive += 1
                    await attend(browser, url, v, timeout_ms, epoch_timeout_ms, linger=rng.uniform(1, 8))
                finally:
                    sampler.alive -= 1
                    slots.release()

            for v in visits[1:]:
                await slots.acquire()
                await asyncio.sleep(rng.uniform(0, 3))  # arrivals spread out, as a room's are
                tasks.append(asyncio.create_task(one(v)))
            await asyncio.gather(*tasks)
            marks["last left"] = time.monotonic() - sampler.started
            say("every session has left; waiting for Streamlit to forget them")

            await forget_closed_sessions(browser, url, ttl, sampler, "all gone")
            await forget_closed_sessions(browser, url, ttl, sampler, "all gone")  # and the passer-by's own session
            sampler.phase = "observer"
            seen = await observe(browser, url, timeout_ms)
            sampler.phase = "after"
            after = await quiet_reading(url, pid)
            return {"first_visitor_rss": first_visitor, "observed": seen, "marks": marks, "before": before, "after": after}
        finally:
            await browser.close()


# --- figures -----------------------------------------------------------------------------------


def figures(sampler: Sampler) -> dict:
    """RSS per phase, and the threads' peak."""
    base, after, busy = sampler.window("idle after the first visitor"), sampler.window("after"), sampler.window("sessions")
    return {
        "rss_start": sampler.samples[0][1],
        "rss_idle_after_first": base[-1][1] if base else None,
        "rss_peak": max(s[1] for s in sampler.samples),
        "rss_after": after[-1][1] if after else None,
        "threads_peak": max(s[2] for s in busy) if busy else None,
        "alive_peak": max(s[3] for s in sampler.samples),
    }


def plot(sampler: Sampler, marks: dict[str, float], first_visitor: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s[0] / 60 for s in sampler.samples]
    fig, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(10, 7), height_ratios=[3, 2, 1])
    top.plot(t, [s[1] / 2**20 for s in sampler.samples], color="#3b75af")
    top.axhline(first_visitor / 2**20, color="#333", linestyle="--", linewidth=1, label="first visitor's")
    top.axhline(1.1 * first_visitor / 2**20, color="#c44e52", linestyle=":", linewidth=1, label="+10%")
    top.set_ylabel("server RSS (MB)")
    top.legend(loc="upper left")
    middle.plot(t, [s[2] for s in sampler.samples], color="#e07b39")
    middle.set_ylabel("threads")
    bottom.step(t, [s[3] for s in sampler.samples], where="post", color="#8cc084")
    bottom.set_ylabel("sessions open")
    bottom.set_xlabel("minutes")
    for axis in (top, middle, bottom):
        axis.grid(color="#eee")
        for name, at in marks.items():
            axis.axvline(at / 60, color="#999", linewidth=0.8)
            if axis is top:
                axis.annotate(name, (at / 60, 1), xycoords=("data", "axes fraction"), fontsize=8, va="bottom")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(sessions: int = 100, alive: int = 4, per_class: int = WORKSHOP_PER_CLASS, ttl: int = DEFAULT_TTL,
        png: Path | None = REPO / "test-artifacts" / "soak.png", train_every: int = 4, seed: int = 13,
        timeout_s: float = 300, epoch_timeout_s: float = 1800, deadline: float = 4 * 3600) -> dict:
    """Run the soak once; returns its figures and the problems found (an empty list when all held)."""
    work = Path(tempfile.mkdtemp(prefix="cnnviz-soak-"))
    visits = [Visit(i, trains=i % train_every == 0) for i in range(sessions)]
    try:
        data = copy_photos(DATA / "train", work / "train", per_class)
        env = {"CNNVIZ_DATA": str(data), "CNNVIZ_SAVE_DIR": str(work / "saved"), "CNNVIZ_CACHE": str(work / "cache"),
               TTL_OPTION: str(ttl)}
        log_path = work / "streamlit.log"
        t0 = time.monotonic()
        with running_app(env, log_path, timeout=120) as (url, server):
            sampler = Sampler(server.pid)
            sampler.start()
            try:
                outcome = asyncio.run(asyncio.wait_for(
                    soak(url, server.pid, visits, alive, ttl, sampler, int(timeout_s * 1000), int(epoch_timeout_s * 1000), seed),
                    deadline,
                ))
                still_healthy = healthy(url)
            finally:
                sampler.stop()
        wall = time.monotonic() - t0
        server_log = log_path.read_text()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "sessions": sessions, "trainers": sum(v.trains for v in visits), "alive": alive, "ttl_s": ttl,
        "photos": 2 * per_class, "cpus": os.cpu_count(), "wall_s": wall,
        "first_visitor_rss": outcome["first_visitor_rss"], **figures(sampler),
        "threads_idle_after_first": outcome["before"]["threads"], "threads_after": outcome["after"]["threads"],
        "thread_names_before": outcome["before"]["names"], "thread_names_after": outcome["after"]["names"],
        "connected_after": outcome["after"]["connected"], "observed": outcome["observed"],
        "epoch_s": [round(v.epoch_s, 1) for v in visits if v.epoch_s is not None],
        "explore_s": [round(v.explore_s, 1) for v in visits if v.explore_s is not None],
    }
    problems = [f"session {v.index}: {e}" for v in visits for e in v.errors]
    problems += [f"the observer's page: {e[:200]}" for e in outcome["observed"]["errors"]]
    if outcome["observed"]["models"] or outcome["observed"]["decoded"]:
        problems.append(f"left in memory: {outcome['observed']['models']} session model(s), {outcome['observed']['decoded']} decoded photo set(s)")
    if outcome["observed"]["sessions_trained"] != result["trainers"]:
        problems.append(f"the room counts {outcome['observed']['sessions_trained']} sessions that trained, not {result['trainers']}")
    if result["threads_after"] > result["threads_idle_after_first"]:
        problems.append(f"{result['threads_after']} threads after, {result['threads_idle_after_first']} before the room")
    more = {name: n for name, n in result["thread_names_after"].items() if name != "python" and n > result["thread_names_before"].get(name, 0)}
    if more:  # TensorFlow's named threads (its pools, tf.data's): Python's all read "python", counted above
        problems.append(f"threads beyond the idle server's, by name: {more}")
    if result["connected_after"] != 0:
        problems.append(f"Streamlit still counts {result['connected_after']} connected browser session(s)")
    if not still_healthy:
        problems.append("the server no longer answers /_stcore/health")
    if "Traceback" in server_log:
        problems.append("the server log holds a traceback")
    result["problems"] = problems
    if png is not None:
        plot(sampler, outcome["marks"], outcome["first_visitor_rss"], png)
        result["png"] = str(png)
    return result


def print_table(r: dict) -> None:
    print(f"\n{r['sessions']} sessions ({r['trainers']} trained a {r['photos']:,}-photo folder's workshop epoch), "
          f"at most {r['alive']} open at once, session TTL {r['ttl_s']} s, {r['cpus']} CPUs, {r['wall_s'] / 60:.0f} min")
    first, after = r["first_visitor_rss"], r["rss_after"]
    rows = [
        ("server RSS: idle at start / first visitor's (after its epoch)", f"{mb(r['rss_start'])} / {mb(first)}"),
        ("server RSS: idle after the first visitor / peak", f"{mb(r['rss_idle_after_first'])} / {mb(r['rss_peak'])}"),
        ("server RSS after the last session (target: within 10% of the first visitor's)",
         f"{mb(after)} ({after / first - 1:+.1%})"),
        ("threads: idle after the first visitor / peak / after the last session",
         f"{r['threads_idle_after_first']} / {r['threads_peak']} / {r['threads_after']}"),
        ("left in memory (census): session models / decoded photo sets",
         f"{r['observed']['models']} / {r['observed']['decoded']}"),
        ("sessions open at once, at most", str(r["alive_peak"])),
    ]
    if r["epoch_s"]:
        rows.append(("epochs: p50 / max", f"{percentile(r['epoch_s'], 0.5):.0f} / {max(r['epoch_s']):.0f} s"))
    if r["explore_s"]:
        rows.append(("open -> a validation photo's Grad-CAM: p50 / p95", f"{percentile(r['explore_s'], 0.5):.1f} / {percentile(r['explore_s'], 0.95):.1f} s"))
    for when in ("before", "after"):
        rows.append((f"threads {when} the room, by name", ", ".join(f"{k} {n}" for k, n in sorted(r[f"thread_names_{when}"].items()))))
    rows.append(("problems", "none" if not r["problems"] else str(len(r["problems"]))))
    print_rows(rows, r["problems"])
    if r.get("png"):
        print(f"  plot: {r['png']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--alive", type=int, default=4, help="browser sessions open at once, at most")
    parser.add_argument("--per-class", type=int, default=WORKSHOP_PER_CLASS, help="photos of each class in the app's folder")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="server.disconnectedSessionTTL for the run, in seconds")
    parser.add_argument("--train-every", type=int, default=4, help="every Nth session trains an epoch, the first among them")
    parser.add_argument("--png", type=Path, default=REPO / "test-artifacts" / "soak.png")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    return report(run(args.sessions, args.alive, args.per_class, args.ttl, args.png, args.train_every), print_table, args.json)


if __name__ == "__main__":
    sys.exit(main())
