"""The Layer Explorer's tabs beyond the tutorial: where the network looked, and a convolution
stepped through one position at a time. Not a page itself: layer_explorer.py calls these
inside its tabs, so that file stays a list of tabs. Every number comes from the page's
cnnviz.report.PhotoReport, so each is computed once for the photo."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnnviz import RULE, charts, pictures
from cnnviz.export import LEFT_OUT, image_figures, zip_bytes
from cnnviz.images import IMAGE_SIZE
from cnnviz.inspect import FilterStats
from cnnviz.mosaic import to_png
from cnnviz.report import PhotoReport
from cnnviz.stepthrough import conv_step, next_position, pool_step
from cnnviz_app import common


# --- sentences computed from the model ----------------------------------------------------------


def filter_sentence(stats: FilterStats) -> str:
    """What a first-layer filter can show, and how its weights compare with Keras's random start."""
    kh, kw, cin = stats.shape
    near = 0.8 <= stats.ratio <= 1.25
    return (
        f"A {kh} × {kw} filter weighs {kh * kw} neighbouring pixels at a time: it can pick out a tiny contrast between them "
        "(lighter on one side, one colour against another), never a shape. "
        f"These {stats.filters} filters' mean |weight| is {stats.mean_abs:.4f} (largest {stats.max_abs:.3f}); "
        f"Keras's random start (Glorot uniform, ±{stats.glorot_limit:.3f}) gives {stats.start_mean_abs:.4f} on average, "
        + (
            f"so their size is still that of random numbers, and the pictures look like colour noise. "
            if near
            else f"so they have grown to {stats.ratio:.1f} times that size in training. "
        )
        + f"What a filter does shows better in its feature maps (the Feature maps tab) than in its {kh * kw * cin} weights."
    )


def unscaled_panel(report: PhotoReport) -> None:
    """The tutorial's test as it ran: the same photo unscaled, and `prediction == 1`."""
    test = report.unscaled_test
    st.markdown(
        "The tutorial tested its network on a photo it fed **unscaled** (0 to 255, though it trained on pixels divided "
        "by 255) and called it a dog only when `prediction == 1`. Here is the same photo both ways, through these weights:"
    )
    for sentence in test.sentences():
        st.markdown(f"- {sentence}")
    st.caption(
        "z is the last dense layer's output, the sigmoid's input. Unscaled pixels are 255 times larger, so z is driven far "
        "from 0 and the float32 sigmoid can round to exactly 0 or 1. The two slips interact: saturated outputs make "
        f"`== 1` answer dog for much of what it sees. Compare with 0.5 instead ({RULE}), on scaled pixels."
    )


def where_it_looked(report: PhotoReport) -> None:
    result = report.explanation
    p = result.dog_probability
    st.markdown(
        "Which parts of the photo made the network say what it said? Both maps are worked out from the gradients "
        f"of the current weights, for the photo as the network gets it ({IMAGE_SIZE} × {IMAGE_SIZE}). Red: raised this "
        "class's score most (relative to this map's own peak); untinted: did not raise it (zero, or pushed towards the "
        "other class)."
    )
    if not result.grad_cams["dog"].channel_weights.any():
        st.info(
            f"Both Grad-CAMs are blank: every gradient is zero. Here P(dog) = {p:.6g}; the maps are taken after the "
            "sigmoid, and a saturated sigmoid (exactly 0 or 1 in float32) passes no gradient back.",
            icon=":material/info:",
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
        f"the positive part, then enlarges the result to {IMAGE_SIZE} × {IMAGE_SIZE}. With untrained weights both maps show noise, "
        "not a dog or a cat."
    )


# --- step-through convolution --------------------------------------------------------------------

PLAY_SECONDS = 1.0


def _move(height: int, width: int, step: int) -> None:
    """Previous / Next / Play: move the window `step` positions along its row-by-row sweep."""
    row, col = st.session_state.get("step_row", 0), st.session_state.get("step_col", 0)
    st.session_state["step_row"], st.session_state["step_col"] = next_position(row, col, height, width, step)


def step_through(report: PhotoReport) -> None:
    """A first-layer filter's window at one position: the products, the sum, the bias, the ReLU."""
    kh, kw, cin = next(iter(report.filters.values()))[0].shape[:3]
    n = kh * kw * cin
    st.markdown(
        "A convolution is one small computation repeated at every position. Pick a filter of the first layer and a "
        f"position: the {kh} × {kw} window of the photo under it ({cin} colours, so {n} numbers) is multiplied number by "
        f"number with the filter's {n} weights, the products are added up, the bias is added, and ReLU keeps the result "
        "if it is positive. That one number is one pixel of the feature map. Press **Play** to sweep the window along."
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
    n = step.products.size
    network_value = float(feature_maps[row, col, k])
    scale = 3
    left, zoom, middle, right = st.columns([3, 3, 4, 3], gap="medium")
    left.image(
        pictures.patch_outline(
            pictures.network_view(photo.network_input, scale), row * scale, col * scale, kernel.shape[0] * scale, width=4
        ),
        caption=f"The window on the network's {IMAGE_SIZE} × {IMAGE_SIZE} input",
        width="stretch",
    )
    zoom.image(
        pictures.window_zoom(photo.network_input, row, col),
        caption=f"Close up: rows {row}–{row + kernel.shape[0] - 1}, columns {col}–{col + kernel.shape[1] - 1}",
        width="stretch",
    )
    relu = "kept" if step.pre_activation > 0 else "negative, so ReLU makes it 0"
    middle.markdown(
        f"sum of the {n} products = **{step.total:+.4f}**  \n"
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
    st.caption(
        f"The {n} products, one {kernel.shape[0]} × {kernel.shape[1]} grid per colour channel: pixel value × weight. "
        "Red adds to the sum, blue takes away."
    )


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
        caption=f"{source}, map {channel} ({maps.shape[0]} × {maps.shape[1]}): the {step.window.shape[0]} × {step.window.shape[1]} window at rows {step.top}–{step.top + step.window.shape[0] - 1}, "
        f"columns {step.left}–{step.left + step.window.shape[1] - 1}",
        width="stretch",
    )
    values = ", ".join(f"{v:.4f}" for v in step.window.ravel())
    middle.markdown(
        f"Max pooling keeps the largest of each {step.window.shape[0]} × {step.window.shape[1]} block: "
        f"{maps.shape[0]} → ⌊{maps.shape[0]}/{step.window.shape[0]}⌋ = {pooled.shape[0]} in height and width"
        + (" (the odd last row and column are dropped)" if maps.shape[0] % step.window.shape[0] else "")
        + f".  \nmax({values}) = **{step.output:.4f}**, found at row {step.argmax[0]}, "
        f"column {step.argmax[1]}."
    )
    right.image(
        pictures.map_with_pixel(pooled[:, :, channel], row, col, scale=4, sweep=False),
        caption=f"{pool}, map {channel}: pixel ({row}, {col}) = {float(pooled[row, col, channel]):.4f} as the network computed it",
        width="stretch",
    )


# --- export -----------------------------------------------------------------------------------------


def export_panel(report: PhotoReport, fingerprint: str, description: str, photo_name: str) -> None:
    """The tabs' main figures as PNGs, and all of them in one zip: the workshop pack."""
    check_filter = int(st.session_state.get("check_filter", 0))
    st.markdown(
        "The main figures of the tabs above for this photo and these weights, as PNG files: download one, or all of "
        "them in one zip (the **workshop pack**: the photo, the verdict, every layer's feature maps, the filters, "
        f"where the network looked, and the convolution check for filter {check_filter} with its numbers). "
        f"Not included: {'; '.join(LEFT_OUT)}."
    )
    key = (fingerprint, common.photo_key(report.photo), check_filter)
    ready = key in st.session_state.get("_export_memo", {})
    if not ready and not st.button("Prepare the figures", key="export_prepare", icon=":material/photo_library:"):
        return

    def compute():
        bar = st.progress(0.0, text="Drawing…")
        parts = ["the photo", "every layer's feature maps", "the filters", "where the network looked", "the convolution check"]

        def on_step(name: str) -> None:
            bar.progress(parts.index(name) / len(parts), text=f"Drawing {name}…")

        files = image_figures(report, description, on_step=on_step, filter_index=check_filter)
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
