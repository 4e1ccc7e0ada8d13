"""A room of attendees on one app: concurrent Chromium sessions exploring and training.

Starts the app as the README does (`python -m cnnviz_app`, bound to
127.0.0.1 by .streamlit/config.toml) on a free port, with CNNVIZ_DATA set to a temporary
copy of a few dozen photos from the shared training folder. One headless Chromium opens a
browser context (a separate Streamlit session, like a separate laptop) per attendee:

- EXPLORERS open the Layer Explorer (the verdict for the sample photo), then upload a photo
  of their own under a unique name and wait for its verdict;
- TRAINERS, started first, train one epoch on the Training page and then open the Layer
  Explorer, which must say it uses "this session's own model".

It measures each explorer's time to verdict (p50/p95), checks that no session sees another's
weights or uploaded file names, samples the server's memory (RSS of the process tree, psutil)
during the load and after every session has closed, and prints a table. Only loopback
traffic; every wait has a time limit and the whole run a deadline, so it ends by itself.

    .venv/bin/python -m benchmarks.attendees                      # 20 explorers + 2 trainers
    .venv/bin/python -m benchmarks.attendees --explorers 4 --trainers 1 --linger 0

tests/browser/test_attendees.py runs a small version (4 + 1) for its checks, not its times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.appserver import copy_photos, healthy, running_app

REPO = Path(__file__).resolve().parent.parent

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", REPO.parent / "shared" / "data" / "dogs-vs-cats"))
CHROMIUM = "/usr/bin/chromium"
HOME_HEADING = "How a CNN tells dogs from cats"


@dataclass
class Attendee:
    name: str
    role: str  # "explorer" or "trainer"
    upload: str | None = None  # the uploaded file's name (unique, so a leak is visible)
    first_verdict_s: float | None = None  # from opening the app to the sample photo's verdict
    upload_verdict_s: float | None = None  # from choosing the file to its verdict
    epoch_s: float | None = None
    weights_line: str = ""
    errors: list[str] = field(default_factory=list)
    body: str = ""  # the page's text at the end, for the leak check


# --- the server and its memory ---------------------------------------------------------------


class MemorySampler(threading.Thread):
    """RSS of the server and its children every `every` seconds, labelled with the phase."""

    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(daemon=True)
        import psutil

        self.process, self.every = psutil.Process(pid), every
        self.samples: list[tuple[float, str, int]] = []
        self.phase = "start"
        self.started = time.monotonic()
        self._halt = threading.Event()

    def rss(self) -> int:
        import psutil

        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.samples.append((time.monotonic() - self.started, self.phase, self.rss()))
            except Exception:  # the server has gone
                return
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def by_phase(self) -> dict[str, tuple[int, int]]:
        """phase -> (last, peak) RSS in bytes, in the order the phases came."""
        out: dict[str, tuple[int, int]] = {}
        for _, phase, rss in self.samples:
            last, peak = out.get(phase, (0, 0))
            out[phase] = (rss, max(peak, rss))
        return out


# --- the attendees ------------------------------------------------------------------------------


async def open_app(browser, url: str, title: str, timeout_ms: int):
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    await page.goto(url)
    await page.get_by_role("heading", name=HOME_HEADING).wait_for()
    await go(page, title)
    return context, page


async def go(page, title: str) -> None:
    await page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    await page.get_by_role("heading", name=title, exact=True).first.wait_for()


async def weights_line(page) -> str:
    line = page.get_by_text(re.compile(r"^Weights: ")).first
    await line.wait_for()
    return (await line.inner_text()).strip()


async def exceptions(page) -> list[str]:
    boxes = page.locator('[data-testid="stException"]')
    return [await boxes.nth(i).inner_text() for i in range(await boxes.count())]


async def upload(page, photo: Path) -> float:
    """On the Layer Explorer: "Upload a photo", then the file; seconds from choosing the file
    to its verdict on the page (its name's caption first: the sample's verdict is gone by then)."""
    await page.get_by_text("Upload a photo", exact=True).click()
    chooser = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    await chooser.wait_for(state="attached")
    t1 = time.monotonic()
    await chooser.set_input_files(str(photo))
    await page.get_by_text(re.compile(re.escape(photo.name) + r": \d+ × \d+ pixels")).wait_for()
    await page.get_by_text("Verdict:").first.wait_for()
    return time.monotonic() - t1


async def explore(browser, url: str, who: Attendee, photo: Path, timeout_ms: int, contexts: list) -> None:
    t0 = time.monotonic()
    context, page = await open_app(browser, url, "Layer Explorer", timeout_ms)
    contexts.append((who, context, page))
    await page.get_by_text("Verdict:").first.wait_for()
    who.first_verdict_s = time.monotonic() - t0
    who.upload_verdict_s = await upload(page, photo)
    who.weights_line = await weights_line(page)


async def train_one_epoch(page) -> float:
    """Set one epoch a click, as a first epoch is measured (the page's workshop default runs
    several), click Train, and return the click's time.monotonic()."""
    per_click = page.get_by_label("Epochs per click")
    await per_click.fill("1")
    await per_click.press("Enter")
    button = page.get_by_role("button", name="Train one epoch")
    await button.wait_for()
    clicked = time.monotonic()
    await button.click()
    return clicked


async def train(browser, url: str, who: Attendee, photo: Path, timeout_ms: int, contexts: list) -> None:
    context, page = await open_app(browser, url, "Training", timeout_ms)
    contexts.append((who, context, page))
    t0 = await train_one_epoch(page)
    await page.get_by_text(re.compile(r"Epoch 1 finished in")).wait_for(timeout=max(timeout_ms, 900_000))
    who.epoch_s = time.monotonic() - t0
    await go(page, "Layer Explorer")
    await upload(page, photo)
    who.weights_line = await weights_line(page)


def say(text: str) -> None:
    """Progress on standard error, so a long run shows where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def attend(role_coro, who: Attendee) -> None:
    try:
        await role_coro
        say(f"{who.name} done" + (f": upload -> verdict {who.upload_verdict_s:.1f} s" if who.upload_verdict_s else ""))
    except Exception as exc:  # recorded and reported; the others go on
        who.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        say(f"{who.name} failed: {who.errors[-1]}")


async def load(url: str, attendees: list[Attendee], photos: dict[str, Path], timeout_ms: int, sampler, linger: float):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            # The presenter opens the app first: TensorFlow is imported and the network built once.
            sampler.phase = "warm-up (one session)"
            t0 = time.monotonic()
            context, page = await open_app(browser, url, "Layer Explorer", timeout_ms)
            await page.get_by_text("Verdict:").first.wait_for()
            warm = time.monotonic() - t0
            await context.close()

            sampler.phase = "load"
            say(f"warm-up done in {warm:.1f} s; the load starts")
            contexts: list = []
            trainers = [a for a in attendees if a.role == "trainer"]
            explorers = [a for a in attendees if a.role == "explorer"]
            tasks = [asyncio.create_task(attend(train(browser, url, a, photos[a.name], timeout_ms, contexts), a)) for a in trainers]
            await asyncio.sleep(2)  # the trainers' epochs are under way while the room explores
            tasks += [asyncio.create_task(attend(explore(browser, url, a, photos[a.name], timeout_ms, contexts), a)) for a in explorers]
            await asyncio.gather(*tasks)

            sampler.phase = "all done, sessions open"
            for who, _, page in contexts:  # every page as it is at the end, for the leak check
                try:
                    who.body = await page.locator("body").inner_text()
                    who.errors += [f"exception on the page: {e[:200]}" for e in await exceptions(page)]
                except Exception as exc:
                    who.errors.append(f"reading the page: {exc}")
            await asyncio.sleep(2)
            sampler.phase = "sessions closed"
            say(f"every attendee done; closing the sessions, then watching memory for {linger:.0f} s")
            for _, context, _ in contexts:
                await context.close()
            closed_at = time.monotonic()
            await asyncio.sleep(linger)
            if linger:
                # Streamlit keeps a closed session ~2 minutes for a reconnect and drops it
                # lazily, when its session storage is next used: a new visitor does that.
                sampler.phase = f"closed {linger:.0f} s ago, then one new visitor"
                context = await browser.new_context()
                try:
                    page = await context.new_page()
                    await page.goto(url)
                    await page.get_by_role("heading", name=HOME_HEADING).wait_for(timeout=60_000)
                    await asyncio.sleep(10)
                except Exception as exc:  # the memory figures so far still count
                    say(f"the new visitor's page did not open: {exc}")
                finally:
                    await context.close()
                await asyncio.sleep(5)
            return warm, time.monotonic() - closed_at
        finally:
            await browser.close()


# --- checks and the table --------------------------------------------------------------------


def leaks(attendees: list[Attendee]) -> list[str]:
    problems = []
    uploads = {a.name: a.upload for a in attendees if a.upload}
    for a in attendees:
        if a.errors:
            continue
        seen = [name for who, name in uploads.items() if who != a.name and name in a.body]
        if seen:
            problems.append(f"{a.name} sees another session's upload: {seen}")
        if a.upload and a.upload not in a.body:
            problems.append(f"{a.name} does not see its own upload {a.upload}")
        own_model = "this session's own model" in a.weights_line
        if a.role == "trainer" and not (own_model and "after epoch 1" in a.weights_line):
            problems.append(f"{a.name} trained but its explorer says: {a.weights_line!r}")
        if a.role == "explorer" and own_model:
            problems.append(f"{a.name} never trained but its explorer says: {a.weights_line!r}")
    return problems


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def run(explorers: int = 20, trainers: int = 2, per_class: int = 24, linger: float = 140.0, deadline: float = 1500.0,
        timeout_s: float = 600.0, keep: Path | None = None) -> dict:
    """Run the load once; returns the figures and the problems found (an empty list when all held)."""
    work = Path(tempfile.mkdtemp(prefix="cnnviz-attendees-"))
    try:
        data = copy_photos(DATA / "train", work / "train", per_class)
        uploads = work / "uploads"
        uploads.mkdir()
        attendees, photos = [], {}
        for i in range(trainers + explorers):
            role = "trainer" if i < trainers else "explorer"
            who = Attendee(f"{role}-{i:02d}", role)
            label = ("cat", "dog")[i % 2]
            # Photos outside the dataset's copy, each under a name no other session could guess.
            who.upload = f"{who.name}-{secrets.token_hex(4)}.jpg"
            photos[who.name] = Path(shutil.copy(DATA / "train" / f"{label}.{5000 + i}.jpg", uploads / who.upload))
            attendees.append(who)

        env = {"CNNVIZ_DATA": str(data), "CNNVIZ_SAVE_DIR": str(work / "saved"), "CNNVIZ_CACHE": str(work / "cache")}
        log_path = work / "streamlit.log"
        with running_app(env, log_path, timeout=120) as (url, server):
            sampler = MemorySampler(server.pid)
            sampler.start()
            try:
                t0 = time.monotonic()
                try:
                    warm, after_close = asyncio.run(
                        asyncio.wait_for(load(url, attendees, photos, int(timeout_s * 1000), sampler, linger), deadline)
                    )
                except (asyncio.TimeoutError, TimeoutError):
                    warm, after_close = float("nan"), float("nan")
                    deadline_problem = f"the whole run passed its deadline of {deadline:.0f} s"
                else:
                    deadline_problem = None
                wall = time.monotonic() - t0
                still_healthy = healthy(url)
            finally:
                sampler.stop()
        server_log = log_path.read_text()
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log_path, keep / "streamlit.log")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first = [a.first_verdict_s for a in attendees if a.first_verdict_s is not None]
    upload = [a.upload_verdict_s for a in attendees if a.upload_verdict_s is not None]
    problems = [f"{a.name}: {e}" for a in attendees for e in a.errors] + leaks(attendees)
    if deadline_problem:
        problems.append(deadline_problem)
        problems += [f"{a.name}: unfinished" for a in attendees if a.upload_verdict_s is None and a.epoch_s is None and not a.errors]
    if not still_healthy:
        problems.append("the server no longer answers /_stcore/health")
    if "Traceback" in server_log:
        problems.append("the server log holds a traceback")
    phases = sampler.by_phase()
    return {
        "explorers": explorers,
        "trainers": trainers,
        "photos": 2 * per_class,
        "cpus": os.cpu_count(),
        "wall_s": wall,
        "warm_up_s": warm,
        "explorers_with_verdict": sum(a.upload_verdict_s is not None for a in attendees if a.role == "explorer"),
        "first_verdict_s": {"p50": percentile(first, 0.5), "p95": percentile(first, 0.95), "max": max(first)} if first else None,
        "upload_verdict_s": {"p50": percentile(upload, 0.5), "p95": percentile(upload, 0.95), "max": max(upload)} if upload else None,
        "epoch_s": [round(a.epoch_s, 1) for a in attendees if a.epoch_s is not None],
        "rss": {phase: {"last": last, "peak": peak} for phase, (last, peak) in phases.items()},
        "rss_timeline": [(round(t, 1), phase, rss) for t, phase, rss in sampler.samples[:: max(1, len(sampler.samples) // 60)]],
        "seconds_after_close": after_close,
        "problems": problems,
    }


def print_table(r: dict) -> None:
    print(f"\n{r['explorers']} explorers + {r['trainers']} trainers, one app process, {r['photos']} photos, "
          f"{r['cpus']} CPUs, {r['wall_s']:.0f} s under load")
    rows = [("warm-up: first visitor's verdict (TensorFlow import, network built)", f"{r['warm_up_s']:.1f} s")]
    rows.append(("explorers that got their upload's verdict", f"{r['explorers_with_verdict']} of {r['explorers']}"))
    for key, what in (("first_verdict_s", "open the app -> sample photo's verdict"), ("upload_verdict_s", "upload -> its verdict")):
        if r[key]:
            rows.append((f"{what}: p50 / p95 / max", f"{r[key]['p50']:.1f} / {r[key]['p95']:.1f} / {r[key]['max']:.1f} s"))
    rows.append(("trainers' epoch (click -> 'Epoch 1 finished')", ", ".join(f"{s} s" for s in r["epoch_s"]) or "-"))
    for phase, rss in r["rss"].items():
        rows.append((f"server RSS, {phase}: last / peak", f"{mb(rss['last'])} / {mb(rss['peak'])}"))
    rows.append(("isolation and health problems", "none" if not r["problems"] else str(len(r["problems"]))))
    print_rows(rows, r["problems"])


def print_rows(rows: list[tuple[str, str]], problems: list[str]) -> None:
    """A benchmark's (what, figure) rows aligned, then each problem found."""
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    for problem in problems:
        print(f"  ! {problem}")


def report(result: dict, table, json_path: Path | None) -> int:
    """Print `result` with `table`, write it to `json_path` too if given; the exit status: 1 if it found problems."""
    table(result)
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
    return 1 if result["problems"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explorers", type=int, default=20)
    parser.add_argument("--trainers", type=int, default=2)
    parser.add_argument("--photos-per-class", type=int, default=24)
    parser.add_argument("--linger", type=float, default=140.0, help="seconds to watch memory after every session closed")
    parser.add_argument("--deadline", type=float, default=1500.0, help="the whole load ends by then, whatever happens")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    return report(run(args.explorers, args.trainers, args.photos_per_class, args.linger, args.deadline), print_table, args.json)


if __name__ == "__main__":
    sys.exit(main())
