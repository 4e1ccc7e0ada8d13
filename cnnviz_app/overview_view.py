"""Home's overview: the photo last explored (or the first sample) through the session's current
model, drawn by cnnviz.overview, a click away from the Layer Explorer.

Not a page: Home imports it once its text is on screen, because it imports TensorFlow (through
cnnviz.report). The picture is computed once per weights and photo for every session
(`shared_overview`), so the sessions using the shipped weights share one.

The picture is a small custom component (st.components.v2): the picture, with a transparent
button over the photo, each column and the verdict. A plotly figure could take the click too,
but plotly's script is the largest a page loads (seconds of a shared core for a new browser,
`benchmarks/home.py`), and Home is the page every visitor opens first.
"""

from __future__ import annotations

import base64

import streamlit as st

from cnnviz.model import weights_fingerprint
from cnnviz.overview import INPUT, VERDICT
from cnnviz.report import photo_report
from cnnviz_app import common, explorer_tabs

KEY = "home_overview"  # the component's key; its trigger "region" is the part clicked, for one run
EXPLORER = "cnnviz_app/pages/layer_explorer.py"
HINT = "click: open it in the Layer Explorer"

CSS = """
.overview { position: relative; width: 100%; }
.overview img { display: block; width: 100%; height: auto; }
.overview button {
  position: absolute; top: 0; height: 100%; padding: 0; cursor: pointer;
  background: transparent; border: 2px solid transparent; border-radius: 6px;
}
.overview button:hover, .overview button:focus-visible { border-color: var(--st-primary-color); }
"""
# Drawn again only for another picture, so a rerun of Home does not make the picture flicker.
JS = """
export default function ({ data, parentElement, setTriggerValue }) {
  let box = parentElement.querySelector(".overview");
  if (!box) {
    box = document.createElement("div");
    box.className = "overview";
    parentElement.appendChild(box);
  }
  if (box.dataset.picture === data.picture) return;
  box.dataset.picture = data.picture;
  const img = document.createElement("img");
  img.src = data.src;
  img.alt = data.alt;
  const buttons = data.regions.map(([name, left, right, words]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.region = name;
    button.style.left = `${(100 * left) / data.width}%`;
    button.style.width = `${(100 * (right - left)) / data.width}%`;
    button.title = `${words}\\n${data.hint}`;
    button.setAttribute("aria-label", `${words}: ${data.hint}`);
    button.onclick = () => setTriggerValue("region", name);
    return button;
  });
  box.replaceChildren(img, ...buttons);
}
"""
picture = st.components.v2.component("cnnviz_overview", css=CSS, js=JS)


@st.cache_resource(max_entries=16, show_spinner=False)
def shared_overview(fingerprint: str, photo: str, _model, _photo) -> tuple[object, dict]:
    """(Overview, the component's data) of `_photo` through `_model`, shared by every session:
    keyed by the weights' fingerprint and the photo's key, never by the objects (the model is not kept)."""
    found = photo_report(_model, _photo).overview
    height, width = found.image.shape[:2]
    data = {
        "picture": f"{fingerprint}-{photo}",
        "src": "data:image/png;base64," + base64.b64encode(found.png).decode(),
        "alt": "The photo, a column of feature maps for each ReLU and pooling layer, and the verdict",
        "width": width,
        "height": height,
        "regions": found.regions(),
        "hint": HINT,
    }
    return found, data


def overview() -> None:
    """The overview with a paragraph on what it shows and what it does not; a click opens the Explorer."""
    choice = common.current_model()
    shown = common.explored()
    found, data = shared_overview(weights_fingerprint(choice.model), common.photo_key(shown.photo), choice.model, shown.photo)
    clicked = picture(key=KEY, data=data, on_region_change=lambda: None)
    maps = len(found.columns[0].channels) if found.columns else 0
    every_relu = any(c.kind == "relu" for c in found.columns)
    layer = "a ReLU or max-pooling layer" if every_relu else "each block's max-pooling layer (too many layers for a column each)"
    st.markdown(
        f"**One photo through the network**: {shown.name}, through {choice.description}. Each column shows {maps} of "
        f"the maps {layer} passes on (the {maps} with the highest average on this photo); the maps get "
        "smaller and more numerous until the verdict gives P(cat) and P(dog). Each tile is coloured on its own range, so it "
        "shows where a map fires, not how strongly it fires against another tile. These are a few maps of each layer, and a "
        "high average does not mean the verdict depends on a map: the Layer Explorer's Occlusion and Where it looked tabs "
        "ask that. **Click a column to open its layer in the Layer Explorer**; explore another photo there and it appears here."
    )
    if clicked.region:
        open_in_explorer(shown, clicked.region)


def open_in_explorer(shown: common.Explored, region: str) -> None:
    """The Explorer on the overview's photo, at the region clicked: the photo's numbers, a layer's
    feature maps, or the dense layer's arithmetic behind the verdict."""
    st.session_state.update(shown.widgets)
    if region == INPUT:
        explorer_tabs.open_at(explorer_tabs.pixels)
    elif region == VERDICT:
        explorer_tabs.open_at(explorer_tabs.dense_layer)
    else:
        explorer_tabs.open_at(explorer_tabs.feature_maps, layer=region)
    st.switch_page(EXPLORER)
