"""The Evaluation page with the network's map of the photos (issue 17), timed as a visitor meets
it: in-process under streamlit.testing, on the shared `train/` folder, the shipped weights.

    .venv/bin/python -m benchmarks.evaluation_map [--photos 200] [--runs 3]

- first visit: a fresh process opens the page: TensorFlow, the shipped weights, judging the
  sample, then the map: its forward pass, scikit-learn's import, PCA and t-SNE;
- another session, same weights: judging again (each session judges for itself), the map
  from the memo every session shares;
- a rerun in one session (PCA switched to t-SNE): nothing computed, the page drawn again;
- new weights (what the page meets after each epoch of a session's model: a copy of the
  shipped weights with one bias nudged, so a new fingerprint): judging and a cold map;
- the map alone, from `PhotoMap.seconds` of those cold maps, and a memo hit.

Prints the load average too: the figures move with whatever else shares the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from benchmarks.attendees import DATA

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
PAGE = "cnnviz_app/pages/evaluation.py"


def visit(n: int, **state) -> tuple[AppTest, float]:
    """A new session on the Evaluation page judging `n` photos: (the session, seconds of the page's run)."""
    at = AppTest.from_file(APP, default_timeout=600)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE)
    at.session_state["eval_n"] = n
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    assert not at.exception, [e.value for e in at.exception]
    assert any("Each dot is one of these" in m.value for m in at.markdown), "the map was not drawn"
    return at, seconds


def nudged(model, k: int):
    """A copy of `model` with its output bias moved by k/1000: other weights, the same cost."""
    from cnnviz.model import copy_model

    copy = copy_model(model)
    weights = copy.get_weights()
    weights[-1] = weights[-1] + k / 1000
    copy.set_weights(weights)
    return copy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200, help="the page's sample (its default: 200)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ["CNNVIZ_DATA"] = str(DATA / "train")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.photos} photos judged and mapped")

    at, first = visit(args.photos)
    print(f"first visit (fresh process: TensorFlow, weights, judging, the map with scikit-learn's import): {first:.1f} s; "
          "its map: " + ", ".join(f"{stage} {value:.2f} s" for stage, value in map_of(at).seconds.items()))

    others = [visit(args.photos)[1] for _ in range(args.runs)]
    print(f"another session, same weights (judges again, map from the shared memo): median {statistics.median(others):.2f} s, "
          f"max {max(others):.2f} s over {args.runs}")

    reruns = []
    for method in ["tsne", "pca"] * args.runs:
        at.radio(key="eval_map_method").set_value(method)
        started = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - started)
    print(f"a rerun in one session (PCA <-> t-SNE): median {statistics.median(reruns):.2f} s, max {max(reruns):.2f} s over {len(reruns)}")

    from cnnviz.session import SessionModel
    from cnnviz_app.common import shipped_model

    fresh, stages = [], {}
    for k in range(1, args.runs + 1):
        model = nudged(shipped_model()[0], k)
        session, seconds = visit(args.photos, session=SessionModel(model, f"nudged {k}", own=True))
        fresh.append(seconds)
        for stage, value in map_of(session).seconds.items():
            stages.setdefault(stage, []).append(value)
    print(f"new weights, as after an epoch (judging and a cold map): median {statistics.median(fresh):.2f} s, max {max(fresh):.2f} s over {args.runs}")
    print("  the map alone, median: " + ", ".join(f"{stage} {statistics.median(v):.2f} s" for stage, v in stages.items())
          + f" (total {sum(statistics.median(v) for v in stages.values()):.2f} s)")

    from cnnviz import photomap  # TensorFlow: imported here, so that the first visit above pays for it

    hits = []
    for _ in range(20):
        started = time.perf_counter()
        photomap.photo_map(model, cold_items(session))
        hits.append(time.perf_counter() - started)
    print(f"  a memo hit (the same weights and photos again): median {1000 * statistics.median(hits):.1f} ms")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def map_of(session: AppTest):
    """The PhotoMap the session's page drew."""
    (found,) = session.session_state["_eval_map_memo"].values()
    return found


def cold_items(session: AppTest) -> list[tuple[str, int]]:
    """The photos the session's map placed, with their labels, as the page asked for them."""
    found = map_of(session)
    return list(zip(found.paths, (int(label) for label in found.labels)))


if __name__ == "__main__":
    main()
