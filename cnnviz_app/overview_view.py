"""Home's overview: the photo last explored (or the first sample) through the session's current
model, drawn by cnnviz.overview, a click away from the Layer Explorer.

Not a page: Home imports it once its text is on screen, because it imports TensorFlow (through
cnnviz.report) and plotly. The picture is computed once per weights and photo for every
session (`shared_overview`), so the sessions using the shipped weights share one.
"""

from __future__ import annotations

import streamlit as st

from cnnviz.charts import OVERVIEW_INPUT, OVERVIEW_VERDICT, overview_chart
from cnnviz.model import weights_fingerprint
from cnnviz.report import photo_report
from cnnviz_app import common, explorer_tabs

CHART = "home_overview"  # the chart's key: its selection is the visitor's click
EXPLORER = "cnnviz_app/pages/layer_explorer.py"
HINT = "click: open it in the Layer Explorer"


@st.cache_resource(max_entries=16, show_spinner=False)
def shared_overview(fingerprint: str, photo: str, _model, _photo):
    """(Overview, its chart) of `_photo` through `_model`, shared by every session: keyed by the
    weights' fingerprint and the photo's key, never by the objects (the model is not kept)."""
    found = photo_report(_model, _photo).overview
    return found, overview_chart(found, HINT)


def overview() -> None:
    """The overview with a paragraph on what it shows and what it does not; a click opens the Explorer."""
    choice = common.current_model()
    shown = common.explored()
    found, chart = shared_overview(weights_fingerprint(choice.model), common.photo_key(shown.photo), choice.model, shown.photo)
    event = st.plotly_chart(
        chart, key=CHART, on_select="rerun", selection_mode="points", width="stretch", config={"displayModeBar": False}
    )
    maps = len(found.columns[0].channels) if found.columns else 0
    st.markdown(
        f"**One photo through the network**: {shown.name}, through {choice.description}. Each column shows {maps} of "
        f"the maps a ReLU or max-pooling layer passes on (the {maps} with the highest average on this photo); the maps get "
        "smaller and more numerous until the verdict gives P(cat) and P(dog). Each tile is coloured on its own range, so it "
        "shows where a map fires, not how strongly it fires against another tile. These are a few maps of each layer, and a "
        "high average does not mean the verdict depends on a map: the Layer Explorer's Occlusion and Where it looked tabs "
        "ask that. **Click a column to open its layer in the Layer Explorer**; explore another photo there and it appears here."
    )
    points = event.selection.points
    if points:
        open_in_explorer(shown, points[0]["customdata"])


def open_in_explorer(shown: common.Explored, region: str) -> None:
    """The Explorer on the overview's photo, at the region clicked: the photo's numbers, a layer's
    feature maps, or the dense layer's arithmetic behind the verdict."""
    st.session_state.update(shown.widgets)
    if region == OVERVIEW_INPUT:
        explorer_tabs.open_at(explorer_tabs.pixels)
    elif region == OVERVIEW_VERDICT:
        explorer_tabs.open_at(explorer_tabs.dense_layer)
    else:
        explorer_tabs.open_at(explorer_tabs.feature_maps, layer=region)
    st.switch_page(EXPLORER)
