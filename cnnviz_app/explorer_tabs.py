"""The Layer Explorer's tabs beyond the tutorial: where the network looked, and a convolution
stepped through one position at a time. Not a page itself: layer_explorer.py calls these
inside its tabs, so that file stays a list of tabs. Every number comes from the page's
cnnviz.report.PhotoReport, so each is computed once for the photo."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnnviz import charts, pictures
from cnnviz.export import image_figures, zip_bytes
from cnnviz.mosaic import to_png
from cnnviz.report import PhotoReport
from cnnviz.stepthrough import conv_step, next_position, pool_step
from cnnviz_app import common


def where_it_looked(report: PhotoReport) -> None:
    result = report.explanation
    p = result.dog_probability
    st.markdown(
        "Which parts of the photo made the network say what it said? Both maps are worked out from the gradients "
        "of the current weights, for the photo as the network gets it (150 × 150). Red: mattered most; "
        "untinted: did not matter."
    )
    panels = [
        (
            report.looked["gradcam-dog"],
            f"Grad-CAM for **dog** (P(dog) = {p:.3f})",
            "Regions whose features raised P(dog).",
            "gradcam-dog",
        ),
        (
            report.looked["gradcam-cat"],
            f"Grad-CAM for **cat** (1 − P(dog) = {1 - p:.3f})",
            "Regions whose features raised P(cat). Where one Grad-CAM is hot the other is blank: "
            "they are the two signs of one weighted sum.",
            "gradcam-cat",
        ),
        (
            report.looked["saliency"],
            "Saliency, for dog and for cat alike",
            "|d score / d pixel|: the pixels a small change would move the score most. The cat score is "
            "1 − P(dog), so its gradient is the dog's with the sign flipped: one map serves both.",
            "saliency",
        ),
    ]
    for col, (image, title, note, name) in zip(st.columns(3, gap="medium"), panels):
        col.image(image, width="stretch", output_format="PNG")
        col.markdown(f"{title}  \n{note}")
        col.download_button(
            "PNG", to_png(image), file_name=f"{name}.png", mime="image/png", icon=":material/download:",
            on_click="ignore", key=f"download_{name}",
        )
    cam = result.grad_cams["dog"]
    st.caption(
        f"Grad-CAM weighs each of the {cam.channel_weights.size} feature maps of {cam.layer} ({cam.raw.shape[0]} × "
        f"{cam.raw.shape[1]}) by how much P(dog) rises when that map does (its mean gradient), adds them up and keeps "
        "the positive part, then enlarges the result to 150 × 150. With untrained weights both maps show noise, "
        "not a dog or a cat."
    )


# --- step-through convolution --------------------------------------------------------------------

PLAY_SECONDS = 1.0


def _move(height: int, width: int, step: int) -> None:
    """Previous / Next / Play: move the window `step` positions along its row-by-row sweep."""
    row, col = st.session_state.get("step_row", 0), st.session_state.get("step_col", 0)
    st.session_state["step_row"], st.session_state["step_col"] = next_position(row, col, height, width, step)


def step_through(report: PhotoReport) -> None:
    """A first-layer filter's window at one position: the 27 products, the sum, the bias, the ReLU."""
    st.markdown(
        "A convolution is one small computation repeated at every position. Pick a filter of the first layer and a "
        "position: the 3 × 3 window of the photo under it (3 colours, so 27 numbers) is multiplied number by number "
        "with the filter's 27 weights, the products are added up, the bias is added, and ReLU keeps the result if it "
        "is positive. That one number is one pixel of the feature map. Press **Play** to sweep the window along."
    )
    playing = st.toggle("Play", key="step_play", help="Moves the window one position every second.")
    st.fragment(run_every=PLAY_SECONDS if playing else None)(_conv_panel)(report, playing)
    st.subheader("Then max pooling")
    _pool_panel(report.activations)


def _conv_panel(report: PhotoReport, playing: bool) -> None:
    photo = report.photo
    kernel, bias = next(iter(report.filters.values()))
    after, feature_maps = report.first_conv
    height, width = feature_maps.shape[:2]
    # Start mid-photo, so the map already shows the rows swept so far.
    st.session_state.setdefault("step_row", height // 2)
    st.session_state.setdefault("step_col", width // 3)
    if playing:
        _move(height, width, 1)
    c1, c2, c3, c4, c5 = st.columns([2, 3.5, 3.5, 1.8, 1.8], vertical_alignment="bottom")
    k = c1.number_input("Filter", 0, kernel.shape[-1] - 1, 0, key="step_filter")
    # No default values: Back, Next and Play set these keys, and a default would fight them.
    row = c2.slider("Row", 0, height - 1, key="step_row")
    col = c3.slider("Column", 0, width - 1, key="step_col")
    c4.button("Back", icon=":material/chevron_left:", key="step_prev", width="stretch", on_click=_move, args=(height, width, -1))
    c5.button("Next", icon=":material/chevron_right:", key="step_next", width="stretch", on_click=_move, args=(height, width, 1))

    step = conv_step(photo.network_input, kernel, bias, int(k), int(row), int(col))
    network_value = float(feature_maps[row, col, k])
    scale = 3
    left, zoom, middle, right = st.columns([3, 3, 4, 3], gap="medium")
    left.image(
        pictures.patch_outline(pictures.network_view(photo.network_input, scale), row * scale, col * scale, 3 * scale, width=4),
        caption="The window on the network's 150 × 150 input",
        width="stretch",
    )
    zoom.image(
        pictures.window_zoom(photo.network_input, row, col),
        caption=f"Close up: rows {row}–{row + 2}, columns {col}–{col + 2}",
        width="stretch",
    )
    relu = "kept" if step.pre_activation > 0 else "negative, so ReLU makes it 0"
    middle.markdown(
        f"sum of the 27 products = **{step.total:+.4f}**  \n"
        f"\\+ bias {step.bias:+.4f} = **{step.pre_activation:+.4f}** ({relu})  \n"
        f"ReLU: max(0, {step.pre_activation:.4f}) = **{step.output:.4f}**"
    )
    middle.markdown(
        f"The network's own value there: **{network_value:.4f}** (difference {abs(step.output - network_value):.1e})."
    )
    right.image(
        pictures.map_with_pixel(feature_maps[:, :, k], row, col, scale=2),
        caption=f"{after}, map {k}: pixel ({row}, {col}) lit in red; grey: not reached yet",
        width="stretch",
    )
    st.plotly_chart(charts.conv_products(step), width="stretch", config={"displayModeBar": False}, key="step_products")
    st.caption("The 27 products, one 3 × 3 grid per colour channel: pixel value × weight. Red adds to the sum, blue takes away.")


@st.fragment
def _pool_panel(acts: dict) -> None:
    names = list(acts)
    pool = next(name for name in names if name.startswith("max_pooling"))
    source = names[names.index(pool) - 1]
    maps, pooled = acts[source], acts[pool]
    c1, c2, c3 = st.columns([2, 3, 3])
    channel = c1.number_input("Map", 0, maps.shape[-1] - 1, 0, key="pool_channel")
    row = c2.slider("Pooled row", 0, pooled.shape[0] - 1, pooled.shape[0] // 2, key="pool_row")
    col = c3.slider("Pooled column", 0, pooled.shape[1] - 1, pooled.shape[1] // 2, key="pool_col")
    step = pool_step(maps[:, :, channel], int(row), int(col))
    left, middle, right = st.columns([3, 5, 3], gap="medium")
    left.image(
        pictures.map_with_pixel(maps[:, :, channel], step.top, step.left, scale=2, sweep=False, size=2),
        caption=f"{source}, map {channel} ({maps.shape[0]} × {maps.shape[1]}): the 2 × 2 window at rows {step.top}–{step.top + 1}, "
        f"columns {step.left}–{step.left + 1}",
        width="stretch",
    )
    values = ", ".join(f"{v:.4f}" for v in step.window.ravel())
    middle.markdown(
        f"Max pooling keeps the largest of each 2 × 2 block and halves the map's width and height "
        f"({maps.shape[0]} → {pooled.shape[0]}).  \nmax({values}) = **{step.output:.4f}**, found at row {step.argmax[0]}, "
        f"column {step.argmax[1]}."
    )
    right.image(
        pictures.map_with_pixel(pooled[:, :, channel], row, col, scale=4, sweep=False),
        caption=f"{pool}, map {channel}: pixel ({row}, {col}) = {float(pooled[row, col, channel]):.4f} as the network computed it",
        width="stretch",
    )


# --- export -----------------------------------------------------------------------------------------


def export_panel(report: PhotoReport, fingerprint: str, description: str, photo_name: str) -> None:
    """Every figure of this tab set as a PNG, and all of them in one zip: the workshop pack."""
    st.markdown(
        "Every figure of the tabs above for this photo and these weights, as PNG files: download one, or all of "
        "them in one zip (the **workshop pack**: the photo, the verdict, every layer's feature maps, the filters, "
        "where the network looked, and the convolution check with its numbers)."
    )
    key = (fingerprint, common.photo_key(report.photo))
    ready = key in st.session_state.get("_export_memo", {})
    if not ready and not st.button("Prepare the figures", key="export_prepare", icon=":material/photo_library:"):
        return

    def compute():
        bar = st.progress(0.0, text="Drawing…")
        parts = ["the photo", "every layer's feature maps", "the filters", "where the network looked", "the convolution check"]

        def on_step(name: str) -> None:
            bar.progress(parts.index(name) / len(parts), text=f"Drawing {name}…")

        files = image_figures(report, description, on_step=on_step)
        bar.empty()
        return files

    files = common.memo(key, compute, slot="_export_memo", keep=1)
    stem = Path(photo_name).stem.replace(" ", "-")[:40] or "photo"
    pngs = [name for name in files if name.endswith(".png")]
    left, right = st.columns([2, 3], gap="large")
    with left:
        name = st.selectbox("Figure", pngs, key="export_figure")
        st.download_button(
            "Download this PNG", files[name], file_name=f"{stem}-{Path(name).name}", mime="image/png",
            icon=":material/download:", on_click="ignore", key="export_png",
        )
        st.download_button(
            "Download the workshop pack", zip_bytes(files, folder=f"cnnviz-{stem}"),
            file_name=f"cnnviz-{stem}.zip", mime="application/zip", icon=":material/folder_zip:", on_click="ignore",
            key="export_zip", type="primary",
        )
        st.caption(f"One zip of {len(files)} files, with a README that lists them.")
    right.image(files[name], caption=name, width="stretch")
