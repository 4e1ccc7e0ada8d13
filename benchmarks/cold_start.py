"""Cold start: from the README's `python -m cnnviz_app` to the first page served and drawn.

    .venv/bin/python -m benchmarks.cold_start [--runs 3]

Each run starts a fresh server (headless, a free port on 127.0.0.1) and times
  - health: `/_stcore/health` answering 200,
  - page:   `/` answering 200 (the app's HTML),
  - text:   headless Chromium opening `/` until the Home page's title is on screen (the
            text is drawn before the overview imports TensorFlow),
  - drawn:  until that first script run has ended (Home: with the overview of the sample,
            which needs TensorFlow and the shipped weights),
from the moment the process is started. The launcher imports TensorFlow before the server
listens (cnnviz_app/server.py), so its first page comes later and its first run sooner than
under `streamlit run streamlit_app.py`, timed too. The peer, started alternately in the same
way, is a one-line Streamlit app (`st.title("hello")`): what Streamlit itself costs here.
Target (issue 5): the app's first page served within 8 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.appserver import free_port, launcher, stop

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = "/usr/bin/chromium"


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def one_start(command: list[str], browser, timeout: float = 120) -> dict[str, float]:
    port = free_port()
    cmd = [*command, "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: dict[str, float] = {}
    try:
        while "page" not in times:
            if time.perf_counter() - t0 > timeout or proc.poll() is not None:
                raise RuntimeError(f"{' '.join(command)} did not serve within {timeout} s")
            if "health" not in times and _ok(base + "/_stcore/health"):
                times["health"] = time.perf_counter() - t0
            if "health" in times and _ok(base + "/"):
                times["page"] = time.perf_counter() - t0
            time.sleep(0.02)
        if browser is not None:
            page = browser.new_page()
            page.goto(base + "/")
            page.wait_for_selector("h1", timeout=timeout * 1000)
            times["text"] = time.perf_counter() - t0
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"] h1', timeout=timeout * 1000)
            times["drawn"] = time.perf_counter() - t0
            page.close()
    finally:
        stop(proc)
    return times


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-browser", action="store_true", help="time the HTTP answers only")
    args = p.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    hello = Path(tmp.name) / "hello.py"
    hello.write_text('import streamlit as st\nst.title("hello")\n')
    run = [sys.executable, "-m", "streamlit", "run"]
    starts = {"cnnviz": launcher(ROOT), "run": [*run, str(ROOT / "streamlit_app.py")], "peer": [*run, str(hello)]}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    pw = browser = None
    if not args.no_browser:
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
    results = {who: [] for who in starts}
    try:
        for i in range(args.runs):
            for who, command in starts.items():
                times = one_start(command, browser)
                results[who].append(times)
                print(f"  run {i + 1} {who:<6}: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()), flush=True)
    finally:
        if browser is not None:
            browser.close()
            pw.stop()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"| {'seconds (median)':<26} | {'cnnviz':>6} | {'streamlit run':>13} | {'peer':>6} | {'ratio':>5} |")
    print(f"|{'-' * 28}|{'-' * 8}|{'-' * 15}|{'-' * 8}|{'-' * 7}|")
    labels = {"health": "/_stcore/health 200", "page": "/ 200 (first page served)", "text": "first text on screen",
              "drawn": "first script run drawn"}
    for key, label in labels.items():
        if key in results["cnnviz"][0]:
            ours, run, peer = (statistics.median(t[key] for t in results[who]) for who in starts)
            print(f"| {label:<26} | {ours:>6.2f} | {run:>13.2f} | {peer:>6.2f} | {ours / peer:>5.2f} |")
    print("target: first page served <= 8 s")


if __name__ == "__main__":
    main()
