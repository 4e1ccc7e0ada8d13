"""Presenter mode: the tutorial's story as a sequence of screens, one idea each, in large type,
then four views beyond it: the overview, what a filter looks for, occlusion beside Grad-CAM, and
fooling the network.

streamlit_app.py calls `show()` in place of the open page while the sidebar's "Presenter mode"
toggle is on (a module, not a page: the pages' menu stays as it was for when the toggle goes off).
Every figure is live: drawn by cnnviz from the session's current model and dataset, the same
functions the other pages call. Next and Previous move through it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import streamlit as st

import math

from cnnviz import CLASS_NAMES, RULE, CnnvizError, charts, pictures
from cnnviz.adversarial import MAX_EPSILON, amplification, epsilon_words, flip_words
from cnnviz.cards import card_accuracy, card_history, card_runs, describe_recipe
from cnnviz.images import Photo
from cnnviz.inspect import SCORE_NOTE, check_lines, score_words, verdict_words
from cnnviz.maximise import conv_layers, filter_unit, made_input, top_patches
from cnnviz.maximise import figure as looks_for_figure
from cnnviz.model import INPUT_SHAPE, layer_table, shape_sentences
from cnnviz.occlusion import agreement_meaning
from cnnviz.report import PhotoReport
from cnnviz_app import common
from cnnviz_app.explorer_tabs import patch_photos
from cnnviz_app.room_view import room_panel

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
    number: int  # the screen's place in the talk, from 1: its title starts with it

    @property
    def model(self):
        return self.choice.model


# --- the screens ------------------------------------------------------------------------------------


def data_screen(talk: Talk) -> None:
    st.title(f"{talk.number}. Data: photos with a label")
    dataset = common.current_dataset()
    split = common.current_split()
    if dataset is None or split is None:
        st.markdown("The network learns from thousands of photos, each labelled **cat** or **dog**. (No dataset is loaded: see the Data page.)")
        return
    counts = dataset.counts()
    st.markdown(
        f"**{counts['cat']:,}** cats and **{counts['dog']:,}** dogs. **{len(split.train):,}** to learn from, "
        f"**{len(split.val):,}** kept back to validate on (checked after every epoch, never learned from)."
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
    st.title(f"{talk.number}. What a computer sees: numbers")
    h, w = talk.photo.original.shape[:2]
    left, right = st.columns([2, 3], gap="large")
    row, col = h // 3, w // 2
    left.image(pictures.patch_outline(pictures.thumbnail(talk.photo.original, 480), *_scaled(row, col, w, 480)), width="stretch")
    left.markdown(f"{h} rows × {w} columns × 3 colours = **{h * w * 3:,}** numbers.")
    patch = charts.pixel_patch(talk.photo.original, row, col, 6).update_layout(height=440)  # Next stays on screen at 720
    right.plotly_chart(patch, width="stretch", config=NO_BAR, key="presenter_patch")


def _scaled(row: int, col: int, width: int, side: int) -> tuple[int, int, int]:
    scale = min(side, width) / width
    return int(row * scale), int(col * scale), max(int(6 * scale), 6)


def parts_screen(talk: Talk) -> None:
    st.title(f"{talk.number}. The parts of a CNN")
    ph, pw = next(layer.pool_size for layer in talk.model.layers if hasattr(layer, "pool_size"))
    st.markdown(
        "**Convolution**: small learned filters, a dot product at every position. **ReLU**: max(0, x). "
        f"**Pooling**: keep the largest of each {ph} × {pw}. **Dense**: every value feeds every output."
    )
    st.caption(" ".join(shape_sentences(talk.model)))
    st.plotly_chart(charts.shape_flow(layer_table(talk.model), INPUT_SHAPE), width="stretch", config=NO_BAR, key="presenter_flow")


def build_screen(talk: Talk) -> None:
    rows = layer_table(talk.model)
    biggest = max(rows, key=lambda r: r.params)
    st.title(f"{talk.number}. Build: {talk.model.count_params():,} numbers to learn")
    left, right = st.columns([2, 3], gap="large")
    left.markdown(
        f"**{talk.model.count_params():,}** parameters in all.  \n\n**{biggest.name}** alone holds "
        f"**{charts.format_share(biggest.share)}**: {biggest.formula}."
    )
    right.plotly_chart(charts.parameter_share(rows), width="stretch", config=NO_BAR, key="presenter_share")


def train_screen(talk: Talk) -> None:
    st.title(f"{talk.number}. Train: guess, measure, nudge")
    mine = common.session_if_made()
    kept = [row for row in mine.rows if row["kept"]] if mine is not None else []
    left, right = st.columns([2, 3], gap="large")
    batch = batch_size(kept)
    left.markdown(
        f"For every batch of {batch or 'a few dozen'} photos: guess (**forward pass**), measure how wrong (**loss**), work out "
        "dLoss/dW (**backpropagation**), nudge every weight. One **epoch** = every training photo once."
    )
    with right:
        if kept:
            st.plotly_chart(charts.epoch_history(kept), width="stretch", config=NO_BAR, key="presenter_history")
        else:
            st.latex(r"\text{loss} = -\frac{1}{N}\sum_{i}\Big[y_i \log p_i + (1-y_i)\log(1-p_i)\Big]")
            st.markdown("Binary cross-entropy. Train an epoch on the Training page and its curves appear here.")


def room_screen(talk: Talk) -> None:
    st.title(f"{talk.number}. The room: many random starts")
    room_panel(key="presenter_room")


def test_screen(talk: Talk) -> None:
    v = talk.report.verdict
    st.title(f"{talk.number}. Test: one photo in, one score out")
    left, right = st.columns([2, 3], gap="large")
    left.image(pictures.network_view(talk.photo.network_input, 2), caption=f"{PHOTO_NAME}, as the network gets it", width="stretch")
    right.markdown(f"P(dog) = **{v.dog_probability:.3f}**")
    right.progress(v.dog_probability)
    right.markdown(f"{RULE}: **{verdict_words(v)}**.")
    right.caption(f"{SCORE_NOTE} Weights: {talk.choice.description}.")


def overview_screen(talk: Talk) -> None:
    found = talk.report.overview
    maps = len(found.columns[0].channels) if found.columns else 0
    st.title(f"{talk.number}. One photo through the network")
    st.image(found.png, width="stretch", output_format="PNG")
    st.markdown(
        f"Each column: the {maps} maps of a layer with the highest average on {PHOTO_NAME}. "
        "The maps get smaller and more numerous, until one score is left."
    )
    st.caption("Each tile is coloured on its own range: where a map fires, not how strongly against another tile.")


def learned_screen(talk: Talk) -> None:
    acts = talk.report.activations
    name, (kernel, _bias) = next(iter(talk.report.filters.items()))
    after = [layer.name for layer in talk.model.layers][1]
    st.title(f"{talk.number}. What the CNN learned")
    left, right = st.columns([2, 3], gap="large")
    left.image(talk.report.filter_png(name), caption=f"The {kernel.shape[-1]} filters of {name}", width="stretch", output_format="PNG")
    right.image(
        talk.report.mosaics[after], caption=f"What they make of {PHOTO_NAME}: the {acts[after].shape[-1]} maps of {after}",
        width="stretch",
    )


def looks_for_screen(talk: Talk) -> None:
    """The last convolution's filter that fires most on the photo: an input made for it, beside the
    validation photos' patches that excite it most (the Layer Explorer's tab, at the deep end)."""
    model = talk.model
    layer = conv_layers(model)[-1]
    unit = filter_unit(model, layer, talk.report.strongest_filter(layer))
    st.title(f"{talk.number}. What a filter looks for")
    with st.spinner(f"Making an input for {unit.words()} and searching the validation photos…"):
        made = made_input(model, unit)
        photos = patch_photos(common.photos_seen_by(talk.choice))
        patches = top_patches(model, unit, photos) if photos else None
    st.image(looks_for_figure(made, patches), width="stretch", output_format="PNG")
    beside = (f"right, the {len(patches.patches)} patches of validation photos that excite it most"
              if patches is not None and patches.patches else "the photo patches need a dataset (the Data page)")
    st.markdown(f"Left, an input **made** to excite {unit.words()}, the last convolution's strongest on {PHOTO_NAME}; {beside}.")
    st.caption("Made by gradient ascent from faint noise: what excites the filter, not what it means.")


def convolving_screen(talk: Talk) -> None:
    firing = talk.report.convolution_check(0).firing
    k = firing[0] if firing else 0  # a filter that fires on the photo: an all-zero map proves nothing
    check = talk.report.convolution_check(k)
    diffs = list(check.max_abs_difference.values())
    st.title(f"{talk.number}. Is it really convolving?")
    st.markdown(f"Filter {k}'s map recomputed by hand with SciPy, number by number against the network's own:")
    titles = ["the network", "correlate2d", "flipped convolve2d", "the network, unscaled photo", "the tutorial's check"]
    notes = ["reference", f"max difference {diffs[0]:.1g}", f"max difference {diffs[1]:.1g}", "its reference",
             f"max difference {diffs[2]:.1g}"]
    for col, image, title, note in zip(st.columns(5), talk.report.convolution_pictures(k), titles, notes):
        col.image(image, width="stretch")
        col.markdown(f"**{title}**  \n{note}")
    st.markdown("Keras slides the kernel **without flipping** it: a cross-correlation. `convolve2d` flips the kernel.")
    st.caption(check_lines(check)[-1])


def occlusion_screen(talk: Talk) -> None:
    report = talk.report
    label, agreement = report.verdict.label, report.occlusion_agreement
    size = report.occlusion.size
    st.title(f"{talk.number}. Where it looked, checked")
    hidden, looked, words = st.columns([2, 2, 3], gap="large")
    hidden.image(report.occluded, width="stretch", output_format="PNG")
    hidden.markdown(f"**Hiding** a {size}-pixel grey square: red where P({label}) drops most")
    looked.image(report.looked[f"gradcam-{label}"], width="stretch", output_format="PNG")
    looked.markdown(f"**Grad-CAM** for {label}: read off the gradients")
    words.markdown(f"Agreement (Spearman): **{'none' if agreement is None else f'{agreement:+.2f}'}**")
    words.caption(agreement_meaning(agreement) + " Both show what the network relies on, not where the animal is.")


def fool_screen(talk: Talk) -> None:
    report = talk.report
    epsilon = report.smallest_flip or MAX_EPSILON
    fooled, images = report.fooled_pictures(epsilon)
    st.title(f"{talk.number}. Fooling it")
    captions = [
        f"**{report.verdict.label}**  \n{score_words(report.verdict)}",
        f"the change ×{amplification(epsilon):.0f}  \n{epsilon_words(epsilon)}",
        f"**{fooled.after.label}**  \n{score_words(fooled.after)}",
    ]
    for col, image, caption in zip(st.columns(3, gap="large"), images, captions):
        col.image(image, width="stretch", output_format="PNG")
        col.markdown(caption)
    st.caption(
        f"On {PHOTO_NAME}, {flip_words(report.verdict, report.smallest_flip)}: every value nudged the way its gradient says. "
        "Many small cues, all pushed at once; it needs this network's own gradients."
    )


# --- the review: the tutorial's ending, with this session's and the shipped weights' figures --------


def batch_size(rows: list[dict]) -> int | None:
    """Photos per batch in a history's last finished epoch (its images over its batches), or None."""
    for row in reversed(rows):
        if row.get("images") and row.get("batches"):
            return math.ceil(row["images"] / row["batches"])
    return None


def shipped_story(card: dict | None) -> list[str]:
    """What the shipped weights' card says about how they were made, every figure read from it."""
    history = card_history(card)
    finished = [h for h in history if h.get("val_accuracy") is not None]
    if not card or not finished:
        return ["No shipped weights with a history: train on the Training page to see a network learn."]
    first, best = finished[0], max(finished, key=lambda h: h["val_accuracy"])
    lines = [
        f"The shipped weights: val_accuracy {first['val_accuracy']:.1%} after their first epoch, "
        f"{best['val_accuracy']:.1%} at best (epoch {best['epoch']}), over {len(history)} epochs in {len(card_runs(card))} run(s)"
        + (f"; {accuracy:.1%} re-checked in float32." if (accuracy := card_accuracy(card)) is not None else "."),
    ]
    if recipe := describe_recipe(card):
        lines.append(f"How: {recipe}.")
    return lines


def session_story(mine) -> str:
    kept = [row for row in mine.rows if row["kept"]] if mine is not None else []
    finished = [row for row in kept if row.get("val_accuracy") is not None]
    if not finished:
        return "This session has not finished an epoch yet."
    last = finished[-1]
    rate = f" at learning rate {last['learning_rate']:.0e}" if last.get("learning_rate") else ""
    return f"This session: {len(kept)} epoch(s){rate}, val_accuracy {last['val_accuracy']:.1%} after the last."


def review_screen(talk: Talk) -> None:
    st.title(f"{talk.number}. Review and next steps")
    rows = layer_table(talk.model)
    biggest = max(rows, key=lambda r: r.params)
    _model, card = common.shipped_model()
    left, right = st.columns([2, 3], gap="large")
    left.markdown(
        "- Convolutions, ReLU and pooling turn pixels into feature maps; dense layers turn them into one score.\n"
        f"- **{talk.model.count_params():,}** parameters, {charts.format_share(biggest.share)} of them in {biggest.name}.\n"
        "- One epoch gives a network better than chance, far from good.\n\n"
        "**Next steps**: more epochs; data augmentation (flips, zooms: slower per epoch, less overfitting); "
        "transfer learning (start from a network already trained on millions of photos)."
    )
    with right:
        st.markdown(session_story(common.session_if_made()))
        for line in shipped_story(card):
            st.markdown(line)
        history = card_history(card)
        if history:
            st.plotly_chart(charts.epoch_history(history), width="stretch", config=NO_BAR, key="presenter_review")


STEPS = [
    data_screen, pixels_screen, parts_screen, build_screen, train_screen, room_screen, test_screen, overview_screen,
    learned_screen, looks_for_screen, convolving_screen, occlusion_screen, fool_screen, review_screen,
]


def move(by: int) -> None:
    st.session_state[STEP] = min(max(st.session_state.get(STEP, 0) + by, 0), len(STEPS) - 1)


def show() -> None:
    """The current screen, then Previous, where we are, and Next."""
    st.markdown(STYLE, unsafe_allow_html=True)
    choice = common.current_model()
    photo = common.chelsea()
    step = min(max(int(st.session_state.get(STEP, 0)), 0), len(STEPS) - 1)
    talk = Talk(choice, photo, common.photo_report(choice.model, photo), step + 1)
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
