"""A room opening the Layer Explorer at once, on this checkout and on a peer revision (by
default main before the Explorer drew only its open tab), measured in the same run.

Each revision runs as the README starts the app (`python -m cnnviz_app`, or `streamlit run`
on 127.0.0.1, the peer from a `git archive` of it in a temporary folder, both with this
interpreter and no dataset: the sample photo is Chelsea). Both servers start first and are
warmed up by one visitor each, as a presenter would open the app before the room does
(TensorFlow imported, the network built, its forward pass compiled); then each load runs on
one server and then on the other, the order alternating from load to load:

1. SESSIONS (10) headless Chromium sessions open the Layer Explorer's deep link at once.
   Open -> ready for an upload: the sample photo's verdict is on the page and its script run
   has finished, so a click gets a run of its own. Then each uploads a photo of its own:
   upload -> its verdict.
2. ARRIVALS (20) sessions arrive within one second, twice: as Chromium sessions (open -> the
   sample photo's verdict on the page), and as clients that speak Streamlit's websocket
   protocol and draw nothing (connection -> the verdict's message received, and -> the run's
   end). The second is the server's share: twenty Chromiums on the same two cores spend
   much of the CPU the first waits for.

    .venv/bin/python -m benchmarks.explorer_room                                  # 10 and 20, peer b38a4ef
    .venv/bin/python -m benchmarks.explorer_room --sessions 3 --arrivals 4 --peer none   # a quick check

Heavy on two cores: on a shared machine run it alone,
`flock /tmp/cnnviz-cpu.lock .venv/bin/python -m benchmarks.explorer_room`. Targets (issue 14):
ten sessions at once, open -> ready p95 <= 15 s and upload -> verdict p95 <= 8 s, every
session answered; twenty arriving in one second, the sample's verdict p95 <= 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.attendees import CHROMIUM, DATA, percentile, say, upload
from tests.appserver import REPO, running_app

PEER = "b38a4ef3f6cf047bb0ba7edfa812ca567762778a"  # main before the Explorer drew only its open tab
PAGE = "layer_explorer"  # the Explorer's deep link
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


@dataclass
class Visit:
    verdict_s: float | None = None  # open (or connection) -> the sample photo's verdict
    ready_s: float | None = None  # open -> ready for an upload (browser); connection -> the run's end (protocol)
    upload_s: float | None = None  # upload -> its verdict
    elements: int = 0  # elements the run sent (protocol clients)
    error: str | None = None


# --- the two kinds of visitor ------------------------------------------------------------------


async def wait_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def browser_visit(page, url: str, start_at: float, photo: Path | None) -> Visit:
    """A Chromium session opening the Explorer's deep link at `start_at`, then uploading `photo`."""
    visit = Visit()
    await wait_until(start_at)
    t0 = time.monotonic()
    try:
        await page.goto(f"{url}/{PAGE}")
        await page.get_by_text("Verdict:").first.wait_for()
        visit.verdict_s = time.monotonic() - t0
        await page.locator(IDLE).wait_for()
        visit.ready_s = time.monotonic() - t0
        if photo is not None:
            visit.upload_s = await upload(page, photo)
    except Exception as exc:  # recorded and counted; the other sessions go on
        visit.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return visit


async def protocol_visit(url: str, start_at: float, timeout_s: float) -> Visit:
    """A client speaking Streamlit's websocket protocol, as the browser does, drawing nothing:
    it asks for the Explorer's first run and times the messages the server sends back."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    visit = Visit()
    await wait_until(start_at)
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            stream = url.replace("http://", "ws://") + "/_stcore/stream"
            async with websockets.connect(stream, subprotocols=["streamlit"], max_size=None) as ws:
                ask = BackMsg()
                ask.rerun_script.page_name = PAGE
                await ws.send(ask.SerializeToString())
                while visit.ready_s is None:
                    msg = ForwardMsg()
                    msg.ParseFromString(await ws.recv())
                    kind = msg.WhichOneof("type")
                    if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                        visit.elements += 1
                        element = msg.delta.new_element
                        if element.WhichOneof("type") == "markdown" and element.markdown.body.startswith("### Verdict:"):
                            visit.verdict_s = time.monotonic() - t0
                    elif kind == "script_finished":
                        visit.ready_s = time.monotonic() - t0
    except Exception as exc:
        visit.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    if visit.error is None and visit.verdict_s is None:
        visit.error = "the run ended without a verdict"
    return visit


# --- the loads ---------------------------------------------------------------------------------


async def browsers_at(browser, url: str, starts: list[float], photos: list[Path | None], timeout_ms: int) -> list[Visit]:
    """One browser context (a session of its own) per visitor, made before the clock starts."""
    contexts = [await browser.new_context(viewport={"width": 1280, "height": 720}) for _ in starts]
    pages = [await context.new_page() for context in contexts]
    for page in pages:
        page.set_default_timeout(timeout_ms)
    t0 = time.monotonic() + 1.0
    try:
        return list(await asyncio.gather(*(browser_visit(p, url, t0 + s, photo) for p, s, photo in zip(pages, starts, photos))))
    finally:
        for context in contexts:
            await context.close()


async def protocol_at(url: str, starts: list[float], timeout_s: float) -> list[Visit]:
    t0 = time.monotonic() + 0.5
    return list(await asyncio.gather(*(protocol_visit(url, t0 + s, timeout_s) for s in starts)))


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of these processes and all their children, so far."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:  # a process that ended meanwhile
            pass
    return total


def spread(n: int, seconds: float) -> list[float]:
    """Start offsets: n arrivals spread evenly over `seconds` (all at once for 0)."""
    return [seconds * i / n for i in range(n)]


async def measure(servers: dict[str, tuple[str, int]], sessions: int, arrivals: int, photos: list[Path], timeout_s: float) -> dict:
    """servers: name -> (url, process id)."""
    import psutil
    from playwright.async_api import async_playwright

    results: dict = {name: {} for name in servers}
    order = list(servers)
    for name, (url, _) in servers.items():
        say(f"{name}: warm-up, one visitor")
        results[name]["first visitor"] = await protocol_visit(url, time.monotonic(), timeout_s)
        results[name]["one visitor alone"] = await protocol_visit(url, time.monotonic(), timeout_s)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        # The browser's own process, a child of Playwright's driver; its renderers are its children.
        chromium = [c.pid for c in psutil.Process().children(recursive=True) if "chrom" in c.name() and "chrom" not in c.parent().name()]
        try:
            loads = []
            if sessions:
                loads.append((f"{sessions} sessions at once", lambda url: browsers_at(
                    browser, url, spread(sessions, 0), photos[:sessions], int(timeout_s * 1000))))
            if arrivals:
                loads.append((f"{arrivals} arriving in one second, Chromium", lambda url: browsers_at(
                    browser, url, spread(arrivals, 1.0), [None] * arrivals, int(timeout_s * 1000))))
                loads.append((f"{arrivals} arriving in one second, protocol clients", lambda url: protocol_at(
                    url, spread(arrivals, 1.0), timeout_s)))
            for i, (load, run) in enumerate(loads):
                for name in order if i % 2 == 0 else order[::-1]:
                    await asyncio.sleep(5)  # the last load's stragglers (closing pages, freed sessions) settle
                    url, pid = servers[name]
                    before, cpu = os.getloadavg()[0], (cpu_seconds([pid]), cpu_seconds(chromium))
                    say(f"{name}: {load}")
                    visits = await run(url)
                    results[name][load] = visits
                    results[name][f"{load}: load average"] = (before, os.getloadavg()[0])
                    results[name][f"{load}: CPU seconds"] = (cpu_seconds([pid]) - cpu[0], cpu_seconds(chromium) - cpu[1])
        finally:
            await browser.close()
    return results


# --- the servers, the figures and the table -----------------------------------------------------


@contextlib.contextmanager
def peer_checkout(rev: str):
    """`rev`'s files in a temporary folder (git archive: nothing in the repository changes)."""
    folder = Path(tempfile.mkdtemp(prefix="cnnviz-peer-"))
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def summary(visits: list[Visit], field: str) -> str:
    values = [getattr(v, field) for v in visits if getattr(v, field) is not None]
    if not values:
        return "-"
    return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f} / {max(values):.1f} s"


def rows(result: dict, sessions: int, arrivals: int) -> list[tuple[str, str, str]]:
    """(what, figure, target) for one revision's results."""
    out = []
    first, alone = result["first visitor"], result["one visitor alone"]
    out.append(("first visitor: connection -> run's end (TensorFlow, network)", f"{first.ready_s or float('nan'):.1f} s", ""))
    out.append(("one visitor alone: connection -> verdict / run's end", f"{alone.verdict_s or float('nan'):.2f} / {alone.ready_s or float('nan'):.2f} s", ""))
    out.append(("elements the Explorer's first run sends", str(alone.elements), ""))
    if sessions:
        load = f"{sessions} sessions at once"
        visits = result[load]
        out.append((f"{load}: open -> ready for an upload, p50 / p95 / max", summary(visits, "ready_s"), "p95 <= 15 s"))
        out.append((f"{load}: upload -> its verdict, p50 / p95 / max", summary(visits, "upload_s"), "p95 <= 8 s"))
        out.append((f"{load}: answered (uploaded photo's verdict)", f"{sum(v.upload_s is not None for v in visits)} of {sessions}", "all"))
    if arrivals:
        load = f"{arrivals} arriving in one second, Chromium"
        visits = result[load]
        out.append((f"{load}: open -> sample's verdict, p50 / p95 / max", summary(visits, "verdict_s"), "p95 <= 20 s"))
        out.append((f"{load}: answered", f"{sum(v.verdict_s is not None for v in visits)} of {arrivals}", "all"))
        load = f"{arrivals} arriving in one second, protocol clients"
        visits = result[load]
        out.append((f"{load} (the server's share): connection -> verdict sent, p50 / p95 / max", summary(visits, "verdict_s"), ""))
        out.append((f"{load}: connection -> run's end, p50 / p95 / max", summary(visits, "ready_s"), ""))
        out.append((f"{load}: answered", f"{sum(v.verdict_s is not None for v in visits)} of {arrivals}", "all"))
    for key, value in result.items():
        if key.endswith(": CPU seconds"):
            out.append((key.replace(": CPU seconds", ": CPU seconds, server / Chromium"), f"{value[0]:.1f} / {value[1]:.1f}", ""))
    for key, value in result.items():
        if key.endswith(": load average"):
            out.append((key.replace(": load average", ": load average, before / after"), f"{value[0]:.1f} / {value[1]:.1f}", ""))
    return out


def print_table(results: dict, sessions: int, arrivals: int) -> None:
    names = list(results)
    tables = {name: rows(result, sessions, arrivals) for name, result in results.items()}
    header = "| measure | " + " | ".join(names) + " | target |"
    print("\n" + header)
    print("|" + "---|" * (len(names) + 2))
    for i, (what, _, target) in enumerate(tables[names[0]]):
        print(f"| {what} | " + " | ".join(tables[name][i][1] for name in names) + f" | {target} |")
    for name, result in results.items():
        for key, visits in result.items():
            for visit in visits if isinstance(visits, list) else [visits] if isinstance(visits, Visit) else []:
                if visit.error:
                    print(f"  ! {name}, {key}: {visit.error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="Chromium sessions opening the Explorer at once, then uploading")
    parser.add_argument("--arrivals", type=int, default=20, help="sessions arriving within one second (Chromium, then protocol clients)")
    parser.add_argument("--peer", default=PEER, help="the revision to measure beside this checkout, or 'none'")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a visitor waits for each step")
    parser.add_argument("--deadline", type=float, default=1800.0, help="the whole run ends by then, whatever happens")
    args = parser.parse_args()

    photos = [DATA / "train" / f"{('cat', 'dog')[i % 2]}.{5000 + i}.jpg" for i in range(args.sessions)]
    print(f"{os.cpu_count()} CPUs, load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"python -m benchmarks.explorer_room {' '.join(sys.argv[1:])}")
    work = Path(tempfile.mkdtemp(prefix="cnnviz-room-"))
    try:
        with contextlib.ExitStack() as stack:
            servers = {}
            checkouts = {"this checkout": REPO}
            if args.peer != "none":
                checkouts[f"peer {args.peer[:7]}"] = stack.enter_context(peer_checkout(args.peer))
            for i, (name, root) in enumerate(checkouts.items()):
                env = {"CNNVIZ_DATA": "", "CNNVIZ_SAVE_DIR": str(work / f"saved-{i}"), "CNNVIZ_CACHE": str(work / f"cache-{i}")}
                url, server = stack.enter_context(running_app(env, work / f"streamlit-{i}.log", timeout=120, root=root))
                servers[name] = (url, server.pid)
            results = asyncio.run(asyncio.wait_for(measure(servers, args.sessions, args.arrivals, photos, args.timeout), args.deadline))
        tracebacks = [log.name for log in work.glob("streamlit-*.log") if "Traceback" in log.read_text()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, args.sessions, args.arrivals)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if tracebacks:
        print(f"  ! a traceback in {', '.join(tracebacks)}")
    failed = any(v.error for r in results.values() for vs in r.values() if isinstance(vs, list) for v in vs)
    return 1 if failed or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
