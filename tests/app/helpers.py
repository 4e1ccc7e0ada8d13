"""Helpers for the app's tests under streamlit.testing.

Every page is reached the way a person reaches it: AppTest runs streamlit_app.py (the
navigation) and switches page. Expected numbers come from cnnviz itself, never from here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.cards import card_trained_on
from cnnviz.dataset import find_dataset
from cnnviz.split import split_dataset

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "streamlit_app.py")
TIMEOUT = 120  # the first run imports TensorFlow and builds the network


def open_page(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert_no_exception(at)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, "\n".join(e.value for e in at.exception)


def texts(at: AppTest) -> str:
    """Everything written on the page as text, one element a line."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error", "latex") for e in getattr(at, kind)]
    parts += [p.text for p in at.get("progress")]
    parts += [c for image in at.image for c in image.captions]
    return "\n".join(parts)


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def plotly_chart(at: AppTest, key: str):
    (chart,) = [chart for chart in at.get("plotly_chart") if chart.key == key]
    return chart


def select_points(at: AppTest, key: str, customdata: list, boxed: bool = False) -> AppTest:
    """Run the page again as Streamlit's frontend does after a selection on the plotly chart
    `key` (made with on_select="rerun"): one click on the point whose customdata is the one row
    of `customdata`, or a box drawn around several. AppTest has no handle for a chart's
    selection, so this sends what Chromium sends: the chart's id and its selection as JSON, each
    point's customdata as plotly hands it over (a numpy array's rows arrive as typed arrays,
    which JSON writes as {"0": .., "1": ..}; a list's as lists)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    chart = plotly_chart(at, key)
    points = []
    for row in customdata:
        for curve, trace in enumerate(json.loads(chart.proto.spec)["data"]):
            raw = trace.get("customdata")
            rows = plotly_array(raw).tolist() if raw is not None else []
            if list(row) in rows:
                i = rows.index(list(row))
                sent = {str(k): v for k, v in enumerate(row)} if isinstance(raw, dict) else list(row)
                points.append({"curve_number": curve, "point_number": i, "point_index": i, "customdata": sent})
                break
        else:
            raise AssertionError(f"no point of {key} has customdata {row}")
    selection = {
        "points": points,
        "point_indices": [p["point_index"] for p in points],
        "box": [{"type": "rect", "xref": "x", "yref": "y", "x": [0, 1], "y": [0, 1]}] if boxed else [],
        "lasso": [],
    }
    states = at._tree.get_widget_states()  # what AppTest.run() would send, plus the chart's selection
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps({"selection": selection})))
    return at._run(states)


def shipped():
    """The app's own shared model (the shipped weights, or one untrained network per process)."""
    from cnnviz_app.common import shipped_model

    return shipped_model()


def plotly_array(value) -> np.ndarray:
    """A plotly array from a figure's JSON: a list, or a typed array {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def seen_by_the_shipped_weights() -> frozenset[str]:
    _, card = shipped()
    if not card:
        pytest.skip("no weights ship in weights/")
    return card_trained_on(card)


def split_of(folder, train: int, val: int):
    return split_dataset(find_dataset(folder), train, val, seed=13)
