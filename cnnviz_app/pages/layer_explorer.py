"""Layer Explorer: one photo through every layer, from its pixel numbers to the verdict."""

import random
from pathlib import Path

import streamlit as st

from cnnviz import CLASS_NAMES, RULE, CnnvizError, charts, mosaic, pictures
from cnnviz.images import IMAGE_SIZE
from cnnviz.inspect import SCORE_NOTE, verdict_words
from cnnviz.mosaic import grid_columns
from cnnviz.model import shape_sentences, weights_fingerprint
from cnnviz.report import PhotoReport
from cnnviz_app import common, explorer_tabs

st.title("Layer Explorer")
st.markdown("Give the network a photo and follow it through every layer: what it sees, what each layer makes of it, and its verdict.")

NO_BAR = {"displayModeBar": False}


# --- the photo --------------------------------------------------------------------------------


def sample_choices() -> dict[str, tuple[object, str]]:
    """name -> (a loader or a path, true label): Chelsea, plus three cats and three dogs from the dataset."""
    choices: dict[str, tuple[object, str]] = {"Chelsea the cat (scikit-image)": (common.chelsea, "cat")}
    dataset = common.current_dataset()
    if dataset is not None:
        rng = random.Random(13)
        for label, name in enumerate(CLASS_NAMES):
            pool = [path for path, lab in dataset.items if lab == label]
            for path in rng.sample(pool, min(3, len(pool))):
                choices[f"{Path(path).name} (a {name}, from the dataset)"] = (path, name)
    return choices


def choose_photo():
    """(Photo, where it came from, its true label or None, its path in the dataset or None),
    or stop the page with one message."""
    split = common.current_split()
    sources = ["Sample photos", "Upload a photo"] + (["Validation image"] if split is not None and split.val else [])
    source = st.radio("Photo", sources, horizontal=True, key="photo_source", label_visibility="collapsed")
    if source == "Upload a photo":
        uploaded = st.file_uploader(
            "Upload a photo of a cat or a dog",
            type=common.UPLOAD_TYPES,
            help="JPEG, PNG, WebP, BMP or GIF. Nothing is kept after you leave.",
        )
        if uploaded is None:
            st.info("Choose a photo above, or drag one onto the box.", icon=":material/upload:")
            st.stop()
        try:
            return common.photo_from_upload(uploaded), uploaded.name, None, None
        except CnnvizError as exc:
            st.error(str(exc), icon=":material/error:")
            st.stop()
    if source == "Validation image":
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        if c2.button("Random", icon=":material/shuffle:", help="Pick a validation image at random", width="stretch"):
            st.session_state["val_index"] = random.randrange(len(split.val))
        index = c1.number_input(
            f"Validation image (0 to {len(split.val) - 1:,})", min_value=0, max_value=len(split.val) - 1, step=1, key="val_index"
        )
        path, label = split.val[int(index)]
        return load_path(path), Path(path).name, CLASS_NAMES[label], path
    choices = sample_choices()
    name = st.selectbox("Sample photo", list(choices), key="sample_name")
    picked, label = choices[name]
    if callable(picked):
        return picked(), name, label, None
    return load_path(picked), name, label, picked


def load_path(path: str):
    try:
        return common.photo_from_path(path)
    except CnnvizError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


photo, photo_name, true_label, dataset_path = choose_photo()

# --- the weights --------------------------------------------------------------------------------

prefer = "session"
if common.session_model_in_use():
    prefer = st.radio(
        "Weights",
        ["session", "shipped"],
        format_func=lambda s: {"session": "this session's model", "shipped": "the shipped weights"}[s],
        horizontal=True,
        key="weights_choice",
    )
choice = common.current_model(prefer)
model = choice.model
fingerprint = weights_fingerprint(model)
report = common.photo_report(model, photo)
verdict, kinds = report.verdict, report.kinds

# --- photo, network input, verdict -------------------------------------------------------------

for warning in photo.warnings:
    st.warning(warning)
col_photo, col_input, col_verdict = st.columns([2, 2, 3], gap="large")
h, w = photo.original.shape[:2]
col_photo.image(pictures.thumbnail(photo.original, 600), caption=f"{photo_name}: {w} × {h} pixels, {photo.format}", width="stretch")
col_input.image(
    pictures.network_view(photo.network_input, 3),  # enlarged without smoothing: its pixels stay visible
    caption=f"What the network gets: squashed to {IMAGE_SIZE} × {IMAGE_SIZE}, each number divided by 255",
    width="stretch",
    output_format="PNG",
)
with col_verdict:
    st.markdown(f"### Verdict: **{verdict.label}**")
    st.markdown(f"P(cat) = {1 - verdict.dog_probability:.3f}, P(dog) = {verdict.dog_probability:.3f}")
    st.progress(verdict.dog_probability, text=f"P(dog) = {verdict.dog_probability:.3f}   ({RULE})")
    st.caption(SCORE_NOTE)
    st.caption(f"Weights: {choice.description}.")
    if true_label is not None:
        right = verdict.label == true_label
        judged = "right" if right else "**wrong**"
        if choice.source == "untrained":
            judged += ", by chance"
        st.markdown(f"The photo is labelled **{true_label}**: the network is {judged}.")
    if dataset_path is not None and common.trained_on_photo(choice, dataset_path):
        st.caption("These weights were trained on this photo, so a right verdict here is no test of them.")
    if choice.source == "untrained":
        st.warning(
            "These weights are untrained, so this verdict is a coin flip and the feature maps show what random "
            "filters pick out. Train an epoch on the Training page to see the network learn.",
            icon=":material/warning:",
        )
    if choice.source == "session" and common.training_in_progress():
        st.info("An epoch is training this model right now: its weights change with every batch. Rerun to see the latest.")

tab_pixels, tab_maps, tab_filters, tab_dense, tab_unscaled, tab_check, tab_looked, tab_step, tab_export = st.tabs(
    [
        "What a computer sees",
        "Feature maps, layer by layer",
        "Filters",
        "Dense layer and verdict",
        "The tutorial's test: unscaled, == 1",
        "Is the CNN really convolving?",
        "Where it looked",
        "Step through a convolution",
        "Export",
    ]
)

# --- pixels -------------------------------------------------------------------------------------


@st.fragment
def pixel_view(photo):
    view = st.radio(
        "Numbers of",
        ["the photo (0 to 255)", f"the network's input ({IMAGE_SIZE} × {IMAGE_SIZE}, 0 to 1)"],
        horizontal=True,
        key="pixel_source",
    )
    network = view.startswith("the network")
    image = photo.network_input if network else photo.original
    h, w = image.shape[:2]
    size = 8
    c1, c2 = st.columns(2)
    row = c1.slider("Row (from the top)", 0, h - size, min(h - size, h // 3), key=f"pixel_row_{network}")
    col = c2.slider("Column (from the left)", 0, w - size, min(w - size, w // 2), key=f"pixel_col_{network}")
    left, right = st.columns([2, 3], gap="large")
    shown = pictures.network_view(image, 1) if network else image
    small = pictures.thumbnail(shown, 480)
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
    right.plotly_chart(charts.pixel_patch(image, row, col, size, unit_range=network), width="stretch", config=NO_BAR)


with tab_pixels:
    pixel_view(photo)

# --- feature maps ----------------------------------------------------------------------------------


def caption(name: str) -> str:
    return f"{name} · {kinds[name]} · {charts.format_shape(report.activations[name].shape)}"


@st.fragment
def closer_look(report: PhotoReport, names: list[str]):
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox("Layer", names, index=0, key="closer_layer")
    channels = report.activations[name].shape[-1]
    channel = c2.slider("Feature map (channel)", 0, channels - 1, 0, key=f"closer_channel_{name}")
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
    if kinds[name] == "relu":
        right.caption("After a ReLU, every negative value has become 0.")
    elif kinds[name] == "convolution":
        right.caption("Before its ReLU: negative values are still there.")
    else:
        ph, pw = report.model.get_layer(name).pool_size
        right.caption(f"Each value is the largest of a {ph} × {pw} block of the layer before.")


with tab_maps:
    st.markdown(
        "Every feature map of every convolution, ReLU and pooling layer, each coloured on its own scale "
        "(yellow: that map's largest value, dark blue: its smallest). Each map shows where in the photo one filter "
        "found its pattern; after each pooling the maps are smaller and each value covers a larger part of the photo."
    )
    st.markdown(" ".join(shape_sentences(report.model)))
    for stage in report.stages():
        cols = st.columns(3)
        for col, name in zip(cols, stage):
            col.image(report.mosaics[name], caption=caption(name), width="stretch", output_format="PNG")
    st.subheader("A closer look at one map")
    closer_look(report, list(report.mosaics))

# --- filters ---------------------------------------------------------------------------------------


@st.fragment
def deeper_filters(report: PhotoReport):
    deeper = [name for name, (kernel, _bias) in report.filters.items() if kernel.shape[2] != 3]
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox("Layer", deeper, key="filter_layer")
    kernel = report.filters[name][0]
    channel = c2.slider("Input channel", 0, kernel.shape[2] - 1, 0, key=f"filter_channel_{name}")
    st.image(
        report.filter_png(name, channel),
        caption=f"{name}: the {kernel.shape[0]} × {kernel.shape[1]} weights each of its {kernel.shape[-1]} filters applies to input channel {channel} "
        f"(one of {kernel.shape[2]}; red positive, blue negative)",
        width=min(640, 60 * grid_columns(kernel.shape[-1])),
        output_format="PNG",
    )


with tab_filters:
    first_name = next(iter(report.filters))
    k1 = report.filters[first_name][0]
    kh, kw, cin = k1.shape[:3]
    st.markdown(
        f"The {k1.shape[-1]} filters of **{first_name}**, each {kh} × {kw} × {cin}: first as colours (each filter's red, green "
        "and blue weights together), then one colour channel at a time (red: positive weight, blue: negative)."
    )
    st.markdown(explorer_tabs.filter_sentence(report.first_filter_stats))
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
    deeper_filters(report)

# --- dense ---------------------------------------------------------------------------------------

with tab_dense:
    dense = report.dense
    st.markdown(
        f"The {dense.values.size} units of **{dense.hidden}** after ReLU: each one weighs all "
        f"{dense.inputs:,} flattened values. Orange bars feed the last layer "
        "with a negative weight (towards cat), blue ones with a positive weight (towards dog). Hover for each unit's contribution."
    )
    st.plotly_chart(charts.dense_activations(dense.values, dense.weights), width="stretch", config=NO_BAR)
    zero = int((dense.values == 0).sum())
    st.caption(
        f"{zero} of the {dense.values.size} units are exactly 0 for this photo (ReLU cut them): they add nothing to z here. "
        "A unit that is 0 for every photo is a dead ReLU; one photo cannot tell which these are."
    )
    st.markdown(
        f"**{dense.output}** adds them up: z = Σ activation × weight + bias = {dense.weighted_sum:.4f} "
        f"+ ({dense.bias:.4f}) = **{dense.z:.4f}**. The sigmoid turns z into a probability: "
        f"P(dog) = 1 / (1 + e<sup>−z</sup>) = **{verdict.dog_probability:.4f}**, so the verdict is **{verdict_words(verdict)}**. "
        "Dropout does nothing here: it only acts during training.",
        unsafe_allow_html=True,
    )

# --- is it really convolving? -----------------------------------------------------------------


@st.fragment
def convolution_panel(report: PhotoReport, n_filters: int):
    k = st.slider("First-layer filter", 0, n_filters - 1, 0, key="check_filter")
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


with tab_check:
    st.markdown(
        "Does the first layer compute what the textbook says? Pick one of its filters; its feature map is recomputed "
        "by hand with SciPy three ways and compared, number by number, with the network's own."
    )
    convolution_panel(report, k1.shape[-1])

with tab_unscaled:
    explorer_tabs.unscaled_panel(report)

with tab_looked:
    explorer_tabs.where_it_looked(report)

with tab_step:
    explorer_tabs.step_through(report)

with tab_export:
    explorer_tabs.export_panel(report, fingerprint, choice.description, photo_name)
