"""The Layer Explorer's tabs, one renderer each (TABS, in the order the page shows them).

Not a page itself: layer_explorer.py chooses the photo and the weights, shows the verdict,
then draws only the open tab, so only that tab's parts of the photo's
cnnviz.report.PhotoReport are computed (a visitor looks at one tab at a time; all nine of
the first tabs at once made the first run 2.0-2.6 s). Every number comes from that report,
so each is computed once for the photo, whichever tab asks first.

Another page opens the Explorer at a tab (and a layer) with `open_at` before switching to it.

A closed tab draws nothing, and Streamlit drops the value of a widget that was not drawn
in a run; so every widget in a tab keeps its value while its tab is closed
(persist_state=KEEP): the Export tab still reads the convolution check's filter, and a
visitor back on a tab finds it as they left it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cnnviz import RULE, charts, mosaic, pictures
from cnnviz.adversarial import HALF_LEVEL, MAX_EPSILON, amplification, epsilon_words, flip_words, unseen_edge_words
from cnnviz.export import LEFT_OUT, PARTS, image_figures, zip_bytes
from cnnviz.images import IMAGE_SIZE
from cnnviz.inspect import FilterStats, score_words, verdict_words
from cnnviz.maximise import MEANING, OUTPUTS, Unit, conv_layers, filter_unit, made_input, output_unit, photo_sample, top_patches
from cnnviz.maximise import figure as looks_for_figure
from cnnviz.model import shape_sentences
from cnnviz.mosaic import grid_columns, to_png
from cnnviz.occlusion import agreement_meaning
from cnnviz.pictures import enlarge
from cnnviz.report import PhotoReport
from cnnviz.stepthrough import conv_step, next_position, pool_step
from cnnviz_app import common

TAB = "explorer_tab"  # st.session_state key: the open tab's label
FOCUS = "explorer_focus"  # st.session_state key: a layer another page opened the feature maps at (read once)
KEEP = "page"  # persist_state of the widgets in tabs: kept while their tab is closed, dropped on leaving the page
NO_BAR = {"displayModeBar": False}


@dataclass(frozen=True)
class Shown:
    """What the tabs draw: one photo's report through the chosen weights."""

    report: PhotoReport
    fingerprint: str  # the weights', for the export's memo
    weights: str  # which weights, in words (ModelChoice.description)
    photo_name: str
    seen: frozenset[str] | None = None  # the photos these weights were trained on (None: unknown), kept out of the patches


# --- what a computer sees ---------------------------------------------------------------------


@st.fragment
def _pixel_view(photo):
    view = st.radio(
        "Numbers of",
        ["the photo (0 to 255)", f"the network's input ({IMAGE_SIZE} × {IMAGE_SIZE}, 0 to 1)"],
        horizontal=True,
        key="pixel_source",
        persist_state=KEEP,
    )
    network = view.startswith("the network")
    image = photo.network_input if network else photo.original
    h, w = image.shape[:2]
    size = 8
    c1, c2 = st.columns(2)
    # The size is in the key: a value kept from a larger photo would be outside this one's range.
    row = c1.slider("Row (from the top)", 0, h - size, min(h - size, h // 3), key=f"pixel_row_{network}_{h}", persist_state=KEEP)
    col = c2.slider("Column (from the left)", 0, w - size, min(w - size, w // 2), key=f"pixel_col_{network}_{w}", persist_state=KEEP)
    left, right = st.columns([2, 3], gap="large")
    picture = pictures.network_view(image, 1) if network else image
    small = pictures.thumbnail(picture, 480)
    scale = small.shape[1] / w
    frame_size = max(int(round(size * scale)), 6)
    left.image(
        pictures.patch_outline(small, int(row * scale), int(col * scale), frame_size, width=2),
        caption=f"The red square: {size} × {size} pixels at row {row}, column {col}",
        width="stretch",
    )
    left.markdown(
        "A photo is, to a computer, a grid of numbers: three per pixel, for red, green and blue. "
        f"This one is {h} rows × {w} columns × 3 colours = {h * w * 3:,} numbers."
    )
    right.image(
        mosaic.to_png(pictures.pixel_numbers(image, row, col, size, unit_range=network)),
        caption=f"Rows {row}-{row + size - 1}, columns {col}-{col + size - 1}: each pixel's red, green and blue, top to bottom",
        width="stretch",
    )


def pixels(shown: Shown) -> None:
    """What a computer sees: the photo's numbers, 8 × 8 pixels at a time."""
    _pixel_view(shown.report.photo)


# --- feature maps -----------------------------------------------------------------------------


def _caption(report: PhotoReport, name: str) -> str:
    return f"{name} · {report.kinds[name]} · {charts.format_shape(report.activations[name].shape)}"


@st.fragment
def _closer_look(report: PhotoReport, names: list[str]):
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox("Layer", names, index=0, key="closer_layer", persist_state=KEEP)
    channels = report.activations[name].shape[-1]
    channel = c2.slider("Feature map (channel)", 0, channels - 1, 0, key=f"closer_channel_{name}", persist_state=KEEP)
    m = report.feature_map(name, channel)
    left, right = st.columns([3, 1], gap="large")
    left.plotly_chart(
        charts.feature_map_heatmap(m, f"{name}, map {channel} of {channels}: {m.shape[0]} × {m.shape[1]} values"),
        width="content",
        config=NO_BAR,
    )
    summary = mosaic.map_summary(m)
    right.markdown(
        f"**smallest** {summary['min']:.4f}  \n**largest** {summary['max']:.4f}  \n**mean** {summary['mean']:.4f}  \n"
        f"**exactly zero** {summary['zero_share']:.0%} of the values"
    )
    if report.kinds[name] == "relu":
        right.caption("After a ReLU, every negative value has become 0.")
    elif report.kinds[name] == "convolution":
        right.caption("Before its ReLU: negative values are still there.")
    elif report.kinds[name] == "batch norm":
        right.caption("Shifted and scaled by the averages training kept for this channel, then by its learned scale and shift.")
    else:
        ph, pw = report.model.get_layer(name).pool_size
        right.caption(f"Each value is the largest of a {ph} × {pw} block of the layer before.")


def feature_maps(shown: Shown) -> None:
    """Every map of every convolution, ReLU and pooling layer, and a closer look at one."""
    report = shown.report
    normed = "batch norm" in report.kinds.values()
    st.markdown(
        f"Every feature map of every convolution, ReLU{', batch norm' if normed else ''} and pooling layer, each coloured on its own scale "
        "(yellow: that map's largest value, dark blue: its smallest). Each map shows where in the photo one filter "
        "found its pattern; after each pooling the maps are smaller and each value covers a larger part of the photo."
    )
    st.markdown(" ".join(shape_sentences(report.model)))
    focus = st.session_state.pop(FOCUS, None)
    if focus in report.mosaics:
        words, picture = st.columns([2, 3], gap="large")
        words.info(
            f"**{focus}**, opened from the overview: all its maps are here, and again below in their stage; "
            "**A closer look** at the bottom of this tab shows one of them large, with its numbers.",
            icon=":material/zoom_in:",
        )
        picture.image(report.mosaics[focus], caption=_caption(report, focus), width="stretch", output_format="PNG")
    for stage in report.stages():
        cols = st.columns(max(3, len(stage)))  # conv, ReLU, pool; batch norm makes four
        for col, name in zip(cols, stage):
            col.image(report.mosaics[name], caption=_caption(report, name), width="stretch", output_format="PNG")
    st.subheader("A closer look at one map")
    _closer_look(report, report.map_layers())


# --- filters ----------------------------------------------------------------------------------


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


@st.fragment
def _deeper_filters(report: PhotoReport):
    deeper = [name for name, (kernel, _bias) in report.filters.items() if kernel.shape[2] != 3]
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox("Layer", deeper, key="filter_layer", persist_state=KEEP)
    kernel = report.filters[name][0]
    channel = c2.slider("Input channel", 0, kernel.shape[2] - 1, 0, key=f"filter_channel_{name}", persist_state=KEEP)
    st.image(
        report.filter_png(name, channel),
        caption=f"{name}: the {kernel.shape[0]} × {kernel.shape[1]} weights each of its {kernel.shape[-1]} filters applies to input channel {channel} "
        f"(one of {kernel.shape[2]}; red positive, blue negative)",
        width=min(640, 60 * grid_columns(kernel.shape[-1])),
        output_format="PNG",
    )


def filters(shown: Shown) -> None:
    """The first layer's filters in colour and channel by channel, then any deeper layer's."""
    report = shown.report
    first_name = next(iter(report.filters))
    k1 = report.filters[first_name][0]
    kh, kw, cin = k1.shape[:3]
    st.markdown(
        f"The {k1.shape[-1]} filters of **{first_name}**, each {kh} × {kw} × {cin}: first as colours (each filter's red, green "
        "and blue weights together), then one colour channel at a time (red: positive weight, blue: negative)."
    )
    st.markdown(filter_sentence(report.first_filter_stats))
    cols = st.columns(4)
    cols[0].image(report.filter_png(first_name), caption=f"{first_name} in RGB", width="stretch", output_format="PNG")
    for c, channel_name in enumerate(("red", "green", "blue")):
        cols[c + 1].image(
            report.filter_png(first_name, c), caption=f"{first_name}, {channel_name} channel", width="stretch", output_format="PNG"
        )
    st.subheader("Deeper layers")
    st.markdown(
        f"A deeper filter has one {kh} × {kw} slice for every feature map of the layer before it; pick which one to see."
    )
    _deeper_filters(report)


# --- what a filter looks for --------------------------------------------------------------------

OUTPUT_UNITS = {f"the {name} output": name for name in OUTPUTS}  # the unit picker's words -> the output unit's side


def _chosen_unit(report: PhotoReport) -> Unit:
    """The unit the What a filter looks for tab has chosen (its widgets' values, kept while it is
    closed), else the first convolution's filter that is strongest on this photo."""
    model = report.model
    layer = st.session_state.get("looks_layer", conv_layers(model)[0])
    if layer in OUTPUT_UNITS:
        return output_unit(model, OUTPUT_UNITS[layer])
    return filter_unit(model, layer, int(st.session_state.get(f"looks_filter_{layer}", report.strongest_filter(layer))))


def patch_photos(seen: frozenset[str] | None) -> list[tuple[str, int]] | None:
    """The validation sample whose patches are searched: photos outside `seen`, those the weights
    were trained on; None without any. The presenter's screen searches the same."""
    split = common.current_split()
    if split is None or not split.val:
        return None
    items, _left_out = common.never_trained_on(split.val, seen)
    return photo_sample(items) if items else None


def looks_for(shown: Shown) -> None:
    """An input made to excite a filter (or the output's dog or cat side), beside the photo patches that excite it most."""
    report = shown.report
    model = report.model
    st.markdown(
        "Pick a filter of any convolution layer, or the output unit's dog or cat side. On the left, an input **made** for it: "
        "starting from faint noise, gradient ascent changes the input step by step so the unit's value grows (drawn from "
        "broad colour waves and shifted a few pixels at every step, so it stays photo-like instead of pixel noise). On the "
        "right, the validation photos' patches that excite it most, each cropped to the pixels the unit sees."
    )
    convs = conv_layers(model)
    c1, c2 = st.columns([2, 3])
    layer = c1.selectbox("Unit", convs + list(OUTPUT_UNITS), key="looks_layer", persist_state=KEEP)
    if layer in convs:
        strongest = report.strongest_filter(layer)
        c2.number_input(
            f"Filter of {layer} (0 to {model.get_layer(layer).filters - 1}; {strongest} is the strongest on this photo)",
            0, model.get_layer(layer).filters - 1, strongest, key=f"looks_filter_{layer}", persist_state=KEEP,
        )
    unit = _chosen_unit(report)

    bar = st.progress(0.0, text=f"Making an input for {unit.words()}…")

    def on_step(done: int, steps: int) -> None:
        if done % 8 == 0 or done == steps:  # a message every few steps, not 128
            bar.progress(done / steps, text=f"Making an input for {unit.words()}: step {done} of {steps}")

    made = made_input(model, unit, on_step=on_step)
    photos = patch_photos(shown.seen)
    patches = None
    if photos:
        patches = top_patches(
            model, unit, photos,
            on_batch=lambda done, n: bar.progress(done / n, text=f"Searching {n} validation photos: {done} done"),
        )
    bar.empty()

    left, right = st.columns([2, 3], gap="large")
    left.image(looks_for_figure(made), width="stretch", output_format="PNG")
    sees = (f"red frame: the {made.field.size} × {made.field.size} pixels its strongest value sees"
            if made.field is not None else "the output unit sees the whole photo")
    left.markdown(
        f"**Made for {unit.words()}**: its strongest value **{made.activation:.2f}**, from {made.start:.2f} on the faint "
        f"noise it started from ({made.steps} steps, {made.seconds:.1f} s)  \n{sees}"
    )
    with right:
        if patches is None or not patches.patches:
            st.info("No validation photos to search: choose a dataset on the Data page to see the photo patches that excite this unit most.")
        else:
            which = ("photos these weights were not trained on" if shown.seen is not None
                     else "the photos these weights were trained on are not known, so some may be among them")
            st.markdown(
                f"**The {len(patches.patches)} patches of {patches.searched} validation photos that excite it most** "
                f"({which}), strongest first:"
            )
            for row in range(0, len(patches.patches), 3):
                for col, patch in zip(st.columns(3), patches.patches[row : row + 3]):
                    col.image(enlarge(patch.pixels, 120), caption=f"{patch.name}: {patch.activation:.2f}", width="stretch")
    st.markdown(MEANING)


# --- dense layer and verdict ------------------------------------------------------------------


def dense_layer(shown: Shown) -> None:
    """The hidden dense layer's units, and the arithmetic from them to z, P(dog) and the verdict."""
    dense, verdict = shown.report.dense, shown.report.verdict
    what = (
        f"The {dense.values.size} values of **{dense.hidden}**: each is the mean of one of the last feature maps, "
        f"{dense.inputs:,} positions averaged."
        if dense.pooled
        else f"The {dense.values.size} units of **{dense.hidden}** after ReLU: each one weighs all {dense.inputs:,} flattened values."
    )
    st.markdown(
        f"{what} Orange bars feed the last layer with a negative weight (towards cat), blue ones with a positive "
        "weight (towards dog). Hover for each one's contribution."
    )
    st.plotly_chart(charts.dense_activations(dense.values, dense.weights), width="stretch", config=NO_BAR)
    if not dense.pooled:
        zero = int((dense.values == 0).sum())
        st.caption(
            f"{zero} of the {dense.values.size} units are exactly 0 for this photo (ReLU cut them): they add nothing to z here. "
            "A unit that is 0 for every photo is a dead ReLU; one photo cannot tell which these are."
        )
    st.markdown(
        f"**{dense.output}** adds them up: z = Σ activation × weight + bias = {dense.weighted_sum:.4f} "
        f"+ ({dense.bias:.4f}) = **{dense.z:.4f}**. The sigmoid turns z into a probability: "
        f"P(dog) = 1 / (1 + e<sup>−z</sup>) = **{verdict.dog_probability:.4f}**, so the verdict is **{verdict_words(verdict)}**."
        + (" Dropout does nothing here: it only acts during training." if "dropout" in shown.report.kinds.values() else ""),
        unsafe_allow_html=True,
    )


# --- the tutorial's test: unscaled pixels, == 1 -----------------------------------------------


def unscaled(shown: Shown) -> None:
    """The tutorial's test as it ran: the same photo unscaled, and `prediction == 1`."""
    test = shown.report.unscaled_test
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


# --- is it really convolving? -----------------------------------------------------------------


@st.fragment
def _convolution_panel(report: PhotoReport, n_filters: int):
    k = st.slider("First-layer filter", 0, n_filters - 1, 0, key="check_filter", persist_state=KEEP)
    check = report.convolution_check(k)
    kh, kw, cin = report.first_filter_stats.shape
    if check.dead:
        others = ", ".join(str(i) for i in check.firing[:5]) or "none"
        st.info(
            f"Filter {k} never fires on this photo: ReLU cut every value of its map to 0, so the map is blank. It is "
            f"silent here, not necessarily dead: another photo may make it fire. Every hand computation 'matches' a map "
            f"of zeros, which proves nothing: pick one that fires here, such as {others}.",
            icon=":material/info:",
        )
    diffs = check.max_abs_difference
    pictures_ = report.convolution_pictures(k)
    titles = [
        "The network's own feature map (after ReLU)",
        "correlate2d per colour channel, summed, + bias, ReLU",
        "convolve2d with the kernel flipped, + bias, ReLU",
    ]
    notes = ["the reference"] + [f"max |difference| = {d:.2g}" for d in list(diffs.values())[:2]]
    cols = st.columns(3)
    for col, image, title, note in zip(cols, pictures_[:3], titles, notes):
        col.image(image, width="stretch")
        col.markdown(f"**{title}**  \n{note}")
    st.caption("These three are coloured on the network map's value range, so equal colours mean equal numbers.")
    st.markdown(
        "`correlate2d` and the flipped `convolve2d` match the network's map to within float rounding. Keras's Conv2D slides "
        f"each {kh} × {kw} × {cin} kernel over the photo *without flipping it* and takes the dot product at every position: "
        "mathematically a cross-correlation, which is what `correlate2d` computes. A true convolution flips the kernel "
        "first, so `convolve2d` matches only when it is handed an already flipped kernel, and the two flips cancel."
    )
    st.markdown("#### The tutorial's check, as it did it")
    r, ratio = check.tutorial_correlation, check.scale_ratio
    left, right, words = st.columns([2, 2, 3], gap="medium")
    left.image(pictures_[3], width="stretch")
    left.markdown("**The network's map of the unscaled 0–255 photo** (what the tutorial compared with)")
    right.image(pictures_[4], width="stretch")
    right.markdown(f"**The tutorial's map**  \nmax |difference| = {list(diffs.values())[2]:.3g}")
    words.markdown(
        "The tutorial turned its unscaled test photo grey with `skimage.color.rgb2gray` (a weighted luminance, not the "
        "three colours the network sees), took only the filter's weights for the **red** input, left out the bias, "
        "and called `convolve2d`, which **flips the kernel**, then ReLU. Each of these differs from what the layer does."
    )
    words.markdown(
        f"For filter {k} on this photo, the two maps correlate "
        + ("not at all measurably (one of them is constant)" if r is None else f"at **r = {r:+.2f}**")
        + ("" if ratio is None else f", and the network's peaks {ratio:.0f} times higher")
        + ". "
        + ("" if (median := report.tutorial_median_correlation) is None else
           f"Over every filter that fires here, the median correlation is **{median:+.2f}**: ")
        + "the tutorial's recipe computes a different feature, not the network's. Each picture is coloured on its own "
        "range, as the tutorial's `imshow` did, which hides how far apart the numbers are."
    )


def convolution_check(shown: Shown) -> None:
    """Is the CNN really convolving? One first-layer filter's map recomputed by hand three ways, and the tutorial's check."""
    st.markdown(
        "Does the first layer compute what the textbook says? Pick one of its filters; its feature map is recomputed "
        "by hand with SciPy three ways and compared, number by number, with the network's own."
    )
    _convolution_panel(shown.report, shown.report.first_filter_stats.filters)


# --- where it looked --------------------------------------------------------------------------


def where_it_looked(shown: Shown) -> None:
    """Both Grad-CAMs and the saliency map, each with its PNG."""
    report = shown.report
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


# --- occlusion: hiding parts of the photo, beside Grad-CAM -------------------------------------


def occlusion(shown: Shown) -> None:
    """The occlusion map beside the same class's Grad-CAM, their agreement, and what it means."""
    report = shown.report
    found, label = report.occlusion, report.verdict.label
    n = len(found.positions)
    st.markdown(
        f"Hide one {found.size} × {found.size}-pixel patch of the photo at a time with a grey square ({n} × {n} = {n * n} places, "
        f"{found.stride} pixels apart) and ask the network again. Red marks where hiding lowered P({label}), the score of the class "
        "it chose: measured directly, with no gradients. Beside it, Grad-CAM for the same class, worked out from gradients."
    )
    drop, top, left = found.largest_drop
    cam = report.explanation.grad_cams[label]
    agreement = report.occlusion_agreement
    hidden, looked, words = st.columns([2, 2, 3], gap="medium")
    hidden.image(report.occluded, width="stretch", output_format="PNG")
    hidden.markdown(
        f"**Occlusion for {label}**  \n"
        + (f"hiding the square at x {left}, y {top} lowers P({label}) most, by {drop:.3f}" if drop > 0 else f"hiding no square lowers P({label})")
    )
    looked.image(report.looked[f"gradcam-{label}"], width="stretch", output_format="PNG")
    looked.markdown(f"**Grad-CAM for {label}**  \nfrom the gradients at {cam.layer}")
    words.metric("Agreement (Spearman)", "none" if agreement is None else f"{agreement:+.2f}")
    words.markdown(agreement_meaning(agreement))
    words.caption(
        f"Spearman's rank correlation over the {n * n} squares, of each square's drop with Grad-CAM's mean under it: "
        "+1 when the two put the photo's places in the same order, 0 when the orders are unrelated."
    )
    if found.score > 0.99:
        st.caption(
            f"P({label}) is {found.score:.4f} for the whole photo: near 1 the sigmoid is flat, so even hiding what matters moves it little."
        )
    st.markdown(
        "It shows what this network relies on, not where the animal is. Grey is itself a pattern to the network, so part "
        "of a drop is its reaction to grey; parts that matter only together (two ears) barely register when hidden one at "
        "a time; details smaller than the square blur into their neighbours. Each map is coloured relative to its own peak: "
        "read the largest drop too."
    )


# --- fooling it: the fast gradient sign method -------------------------------------------------

EPSILON_STEP = 0.0001  # the slider's step: 0.0255 of a 0-255 level


def _fool_key(report: PhotoReport) -> str:
    """The ε slider's key, one per photo: each photo's slider starts at its own smallest flipping ε."""
    return f"fool_epsilon_{common.photo_key(report.photo)[:12]}"


@st.fragment
def _fool_panel(report: PhotoReport) -> None:
    verdict, smallest = report.verdict, report.smallest_flip
    st.markdown(f"On this photo, **{flip_words(verdict, smallest)}**.")
    start = MAX_EPSILON if smallest is None else min(math.ceil(smallest / EPSILON_STEP) * EPSILON_STEP, MAX_EPSILON)
    epsilon = st.slider(
        "ε: how far every input value moves (the input runs from 0, black, to 1, white)",
        0.0, MAX_EPSILON, start, step=EPSILON_STEP, format="%.4f", key=_fool_key(report), persist_state=KEEP,
        help="It starts at the smallest ε that flips the verdict, rounded up to the slider's step.",
    )
    fooled, images = report.fooled_pictures(epsilon)
    after = fooled.after
    captions = [
        f"**Before: {verdict.label}**  \n{score_words(verdict)}",
        (f"**The change, amplified {amplification(epsilon):.0f}×**  \nin each colour, bright: +ε, dark: −ε (a red dot: red up, green and blue down)  \n{epsilon_words(epsilon)}"
         if epsilon > 0 else "**No change**: ε = 0"),
        f"**After: {after.label}**" + (" (flipped)" if fooled.flipped else "") + f"  \n{score_words(after)}",
    ]
    for col, image, caption in zip(st.columns(3, gap="medium"), images, captions):
        col.image(image, width="stretch", output_format="PNG")
        col.markdown(caption)
    noised = report.noised(epsilon).after
    st.markdown(
        f"The same size of change in random directions (each value moved +ε or −ε at random): **{noised.label}** "
        f"({score_words(noised)})."
    )
    if 0 < epsilon < HALF_LEVEL:
        st.caption("Every value moves by less than half a level of 255 here: saved as an 8-bit image, the photo would round back to the original.")
    unseen = unseen_edge_words(report.model.layers)
    if unseen and epsilon > 0:
        st.caption(unseen)


def fool_it(shown: Shown) -> None:
    """The fast gradient sign perturbation: an ε slider, the change amplified, the verdict before and after."""
    st.markdown(
        "Every input value is nudged by the same tiny ε, up or down: whichever way (the sign of the gradient) pushes the "
        "score away from the verdict. The middle picture shows that change, amplified until you can see it."
    )
    _fool_panel(shown.report)
    st.markdown(
        "What it shows: the verdict rests on many small cues spread over the whole photo, and all of them can be pushed at "
        "once; compare the same size of change in random directions. What it does not show: that the network fails on "
        "ordinary photos, or that the change would fool a person or another network. It needs this network's own gradients, "
        "and a change under half a level of 255 disappears when the photo is saved as an 8-bit image."
    )


# --- step-through convolution -----------------------------------------------------------------


PLAY_SECONDS = 1.0


def _move(height: int, width: int, step: int) -> None:
    """Previous / Next / Play: move the window `step` positions along its row-by-row sweep."""
    row, col = st.session_state.get("step_row", 0), st.session_state.get("step_col", 0)
    st.session_state["step_row"], st.session_state["step_col"] = next_position(row, col, height, width, step)


def step_through(shown: Shown) -> None:
    """A first-layer filter's window at one position: the products, the sum, the bias, the ReLU."""
    report = shown.report
    kh, kw, cin = next(iter(report.filters.values()))[0].shape[:3]
    n = kh * kw * cin
    st.markdown(
        "A convolution is one small computation repeated at every position. Pick a filter of the first layer and a "
        f"position: the {kh} × {kw} window of the photo under it ({cin} colours, so {n} numbers) is multiplied number by "
        f"number with the filter's {n} weights, the products are added up, the bias is added, and ReLU keeps the result "
        "if it is positive. That one number is one pixel of the feature map. Press **Play** to sweep the window along."
    )
    playing = st.toggle("Play", key="step_play", help="Moves the window one position every second.", persist_state=KEEP)
    st.fragment(run_every=PLAY_SECONDS if playing else None)(_conv_panel)(report, playing)
    st.subheader("Then max pooling")
    _pool_panel(report.activations)


def _conv_panel(report: PhotoReport, playing: bool) -> None:
    photo = report.photo
    kernel, bias = next(iter(report.filters.values()))
    after, maps = report.first_conv
    height, width = maps.shape[:2]
    # Start mid-photo, so the map already shows the rows swept so far.
    st.session_state.setdefault("step_row", height // 2)
    st.session_state.setdefault("step_col", width // 3)
    if playing:
        _move(height, width, 1)
    c1, c2, c3, c4, c5 = st.columns([2, 3.5, 3.5, 1.8, 1.8], vertical_alignment="bottom")
    k = c1.number_input("Filter", 0, kernel.shape[-1] - 1, 0, key="step_filter", persist_state=KEEP)
    # No default values: Back, Next and Play set these keys, and a default would fight them.
    row = c2.slider("Row", 0, height - 1, key="step_row", persist_state=KEEP)
    col = c3.slider("Column", 0, width - 1, key="step_col", persist_state=KEEP)
    c4.button("Back", icon=":material/chevron_left:", key="step_prev", width="stretch", on_click=_move, args=(height, width, -1))
    c5.button("Next", icon=":material/chevron_right:", key="step_next", width="stretch", on_click=_move, args=(height, width, 1))

    step = conv_step(photo.network_input, kernel, bias, int(k), int(row), int(col))
    n = step.products.size
    network_value = float(maps[row, col, k])
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
        pictures.map_with_pixel(maps[:, :, k], row, col, scale=2),
        caption=f"{after}, map {k}: pixel ({row}, {col}) lit in red; grey: not reached yet",
        width="stretch",
    )
    st.plotly_chart(charts.conv_products(step), width="stretch", config=NO_BAR, key="step_products")
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
    channel = c1.number_input("Map", 0, maps.shape[-1] - 1, 0, key="pool_channel", persist_state=KEEP)
    row = c2.slider("Pooled row", 0, pooled.shape[0] - 1, pooled.shape[0] // 2, key="pool_row", persist_state=KEEP)
    col = c3.slider("Pooled column", 0, pooled.shape[1] - 1, pooled.shape[1] // 2, key="pool_col", persist_state=KEEP)
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


# --- export -----------------------------------------------------------------------------------


def export(shown: Shown) -> None:
    """The tabs' main figures as PNGs, and all of them in one zip: the workshop pack."""
    report = shown.report
    check_filter = int(st.session_state.get("check_filter", 0))
    epsilon = st.session_state.get(_fool_key(report))  # the Fool it tab's ε, once it has been opened
    unit = _chosen_unit(report)
    photos = patch_photos(shown.seen)
    st.markdown(
        "The main figures of the tabs above for this photo and these weights, as PNG files: download one, or all of "
        "them in one zip (the **workshop pack**: the photo, the verdict, every layer's feature maps, the filters, "
        f"where the network looked, the convolution check for filter {check_filter} with its numbers, the overview, "
        "occlusion beside Grad-CAM, and the photo fooled at "
        + ("the smallest ε that flips its verdict" if epsilon is None else f"the Fool it tab's {epsilon_words(epsilon)}")
        + f", and what {unit.words()} looks for). Not included: {'; '.join(LEFT_OUT)}."
    )
    key = (shown.fingerprint, common.photo_key(report.photo), check_filter, epsilon, unit, None if photos is None else hash(tuple(photos)))
    ready = key in st.session_state.get("_export_memo", {})
    if not ready and not st.button("Prepare the figures", key="export_prepare", icon=":material/photo_library:"):
        return

    def compute():
        bar = st.progress(0.0, text="Drawing…")

        def on_step(name: str) -> None:
            bar.progress(PARTS.index(name) / len(PARTS), text=f"Drawing {name}…")

        files = image_figures(
            report, shown.weights, on_step=on_step, filter_index=check_filter, epsilon=epsilon, unit=unit, photos=photos
        )
        bar.empty()
        return files

    files = common.memo(key, compute, slot="_export_memo", keep=1)
    stem = Path(shown.photo_name).stem.replace(" ", "-")[:40] or "photo"
    pngs = [name for name in files if name.endswith(".png")]
    left, right = st.columns([2, 3], gap="large")
    with left:
        name = st.selectbox("Figure", pngs, key="export_figure", persist_state=KEEP)
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


TABS: dict[str, Callable[[Shown], None]] = {  # label -> renderer, in the tutorial's order
    "What a computer sees": pixels,
    "Feature maps, layer by layer": feature_maps,
    "Filters": filters,
    "What a filter looks for": looks_for,
    "Dense layer and verdict": dense_layer,
    "The tutorial's test: unscaled, == 1": unscaled,
    "Is the CNN really convolving?": convolution_check,
    "Where it looked": where_it_looked,
    "Occlusion": occlusion,
    "Fool it": fool_it,
    "Step through a convolution": step_through,
    "Export": export,
}


def open_at(renderer: Callable[[Shown], None], layer: str | None = None) -> None:
    """Make the Explorer open at `renderer`'s tab when it next runs, and at `layer` in the feature maps
    (its closer look, and a word at the top): for a page about to switch to the Explorer."""
    st.session_state[TAB] = next(label for label, draw in TABS.items() if draw is renderer)
    if layer is not None:
        st.session_state["closer_layer"] = layer
        st.session_state[FOCUS] = layer
