"""Presenter mode: the tutorial's story as a sequence of screens, one idea each, in large type.

streamlit_app.py calls `show()` in place of the open page while the sidebar's "Presenter mode"
toggle is on (a module, not a page: the pages' menu stays as it was for when the toggle goes off).
Every figure is live: drawn by cnnviz from the session's current model and dataset, the same
functions the other pages call. Next and Previous move through it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import streamlit as st

from cnnviz import CLASS_NAMES, RULE, CnnvizError, charts, pictures
from cnnviz.images import Photo
from cnnviz.model import INPUT_SHAPE, layer_table
from cnnviz.report import PhotoReport
from cnnviz_app import common

STEP = "presenter_step"
NO_BAR = {"displayModeBar": False}
PHOTO_NAME = "Chelsea the cat"

# Large type for a projector at 1280x720; one screen must fit without scrolling.
STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 1.2rem; padding-bottom: 1rem; }
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] li { font-size: 1.45rem; line-height: 1.45; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.6rem; padding-bottom: 0.3rem; }
[data-testid="stCaptionContainer"] p { font-size: 1.05rem !important; }
</style>
"""


@dataclass(frozen=True)
class Talk:
    """What every screen draws from: the session's current model, and the photo the talk follows."""

    choice: common.ModelChoice
    photo: Photo
    report: PhotoReport  # the photo through the model: the Layer Explorer's own, when it shows the same photo

    @property
    def model(self):
        return self.choice.model


# --- the screens ------------------------------------------------------------------------------------


def data_screen(talk: Talk) -> None:
    st.title("1. Data: photos with a label")
    dataset = common.current_dataset()
    split = common.current_split()
    if dataset is None or split is None:
        st.markdown("The network learns from thousands of photos, each labelled **cat** or **dog**. (No dataset is loaded: see the Data page.)")
        return
    counts = dataset.counts()
    st.markdown(
        f"**{counts['cat']:,}** cats and **{counts['dog']:,}** dogs. **{len(split.train):,}** to learn from, "
        f"**{len(split.val):,}** kept back to test on."
    )
    rng = random.Random(13)  # the same six photos every time the presenter comes back
    cats, dogs = ([it for it in dataset.items if it[1] == label] for label in (0, 1))
    picks = [photo for pair in zip(rng.sample(cats, min(3, len(cats))), rng.sample(dogs, min(3, len(dogs)))) for photo in pair]
    for col, (path, label) in zip(st.columns(6), picks):
        try:
            col.image(pictures.square_thumbnail(common.photo_from_path(path).original, 220), caption=CLASS_NAMES[label], width="stretch")
        except CnnvizError:  # a photo removed since the scan: leave its place empty rather than stop the talk
            col.caption(CLASS_NAMES[label])


def pixels_screen(talk: Talk) -> None:
    st.title("2. What a computer sees: numbers")
    h, w = talk.photo.original.shape[:2]
    left, right = st.columns([2, 3], gap="large")
    row, col = h // 3, w // 2
    left.image(pictures.patch_outline(pictures.thumbnail(talk.photo.original, 480), *_scaled(row, col, w, 480)), width="stretch")
    left.markdown(f"{h} × {w} pixels × 3 colours = **{h * w * 3:,}** numbers.")
    patch = charts.pixel_patch(talk.photo.original, row, col, 6).update_layout(height=440)  # Next stays on screen at 720
    right.plotly_chart(patch, width="stretch", config=NO_BAR, key="presenter_patch")


def _scaled(row: int, col: int, width: int, side: int) -> tuple[int, int, int]:
    scale = min(side, width) / width
    return int(row * scale), int(col * scale), max(int(6 * scale), 6)


def parts_screen(talk: Talk) -> None:
    st.title("3. The parts of a CNN")
    st.markdown(
        "**Convolution**: small learned filters, a dot product at every position. **ReLU**: max(0, x). "
        "**Pooling**: keep the largest of each 2 × 2. **Dense**: every value feeds every output."
    )
    st.plotly_chart(charts.shape_flow(layer_table(talk.model), INPUT_SHAPE), width="stretch", config=NO_BAR, key="presenter_flow")


def build_screen(talk: Talk) -> None:
    rows = layer_table(talk.model)
    biggest = max(rows, key=lambda r: r.params)
    st.title("4. Build: 5 million numbers to learn")
    left, right = st.columns([2, 3], gap="large")
    left.markdown(
        f"**{talk.model.count_params():,}** parameters in all.  \n\n**{biggest.name}** alone holds "
        f"**{charts.format_share(biggest.share)}**: {biggest.formula}."
    )
    right.plotly_chart(charts.parameter_share(rows), width="stretch", config=NO_BAR, key="presenter_share")


def train_screen(talk: Talk) -> None:
    st.title("5. Train: guess, measure, nudge")
    mine = common.session_if_made()
    kept = [row for row in mine.rows if row["kept"]] if mine is not None else []
    left, right = st.columns([2, 3], gap="large")
    left.markdown(
        "For every batch of 32 photos: guess (**forward pass**), measure how wrong (**loss**), work out "
        "dLoss/dW (**backpropagation**), nudge every weight. One **epoch** = every training photo once."
    )
    with right:
        if kept:
            st.plotly_chart(charts.epoch_history(kept), width="stretch", config=NO_BAR, key="presenter_history")
        else:
            st.latex(r"\text{loss} = -\frac{1}{N}\sum_{i}\Big[y_i \log p_i + (1-y_i)\log(1-p_i)\Big]")
            st.markdown("Binary cross-entropy. Train an epoch on the Training page and its curves appear here.")


def test_screen(talk: Talk) -> None:
    v = talk.report.verdict
    st.title("6. Test: one photo in, one probability out")
    left, right = st.columns([2, 3], gap="large")
    left.image(pictures.network_view(talk.photo.network_input, 2), caption=f"{PHOTO_NAME}, as the network gets it", width="stretch")
    right.markdown(f"P(dog) = **{v.dog_probability:.3f}**")
    right.progress(v.dog_probability)
    right.markdown(f"{RULE}: **{v.label}**, {v.probability:.1%} sure.")
    right.caption(f"Weights: {talk.choice.description}.")


def learned_screen(talk: Talk) -> None:
    acts = talk.report.activations
    name, (kernel, _bias) = next(iter(talk.report.filters.items()))
    after = [layer.name for layer in talk.model.layers][1]
    st.title("7. What the CNN learned")
    left, right = st.columns([2, 3], gap="large")
    left.image(talk.report.filter_png(name), caption=f"The {kernel.shape[-1]} filters of {name}", width="stretch", output_format="PNG")
    right.image(
        talk.report.mosaics[after], caption=f"What they make of {PHOTO_NAME}: the {acts[after].shape[-1]} maps of {after}",
        width="stretch",
    )


def convolving_screen(talk: Talk) -> None:
    check = talk.report.convolution_check(0)
    diffs = check.max_abs_difference
    st.title("8. Is it really convolving?")
    st.markdown("The first filter's map recomputed by hand with SciPy, number by number against the network's own:")
    titles = ["the network", "correlate2d", "flipped convolve2d", "the tutorial's check"]
    notes = ["reference"] + [f"max difference {d:.1g}" for d in diffs.values()]
    for col, image, title, note in zip(st.columns(4), talk.report.convolution_pictures(0), titles, notes):
        col.image(image, width="stretch")
        col.markdown(f"**{title}**  \n{note}")
    st.markdown("Keras slides the kernel **without flipping** it: a cross-correlation.")


STEPS = [data_screen, pixels_screen, parts_screen, build_screen, train_screen, test_screen, learned_screen, convolving_screen]


def move(by: int) -> None:
    st.session_state[STEP] = min(max(st.session_state.get(STEP, 0) + by, 0), len(STEPS) - 1)


def show() -> None:
    """The current screen, then Previous, where we are, and Next."""
    st.markdown(STYLE, unsafe_allow_html=True)
    choice = common.current_model()
    photo = common.chelsea()
    talk = Talk(choice, photo, common.photo_report(choice.model, photo))
    step = min(max(int(st.session_state.get(STEP, 0)), 0), len(STEPS) - 1)
    STEPS[step](talk)
    back, where, forward = st.columns([1.4, 4, 1.4], vertical_alignment="center")
    back.button(
        "Previous", icon=":material/arrow_back:", key="presenter_prev", on_click=move, args=(-1,), disabled=step == 0, width="stretch"
    )
    where.progress((step + 1) / len(STEPS), text=f"{step + 1} of {len(STEPS)}")
    forward.button(
        "Next", icon=":material/arrow_forward:", key="presenter_next", on_click=move, args=(1,),
        disabled=step == len(STEPS) - 1, width="stretch", type="primary",
    )
