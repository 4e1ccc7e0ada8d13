"""Layer Explorer: one photo through every layer, from its pixel numbers to the verdict."""

import random
from pathlib import Path

import streamlit as st

from cnnviz import CLASS_NAMES, RULE, CnnvizError, pictures
from cnnviz.images import IMAGE_SIZE
from cnnviz.inspect import SCORE_NOTE
from cnnviz.model import weights_fingerprint
from cnnviz_app import common, explorer_tabs
from cnnviz_app.common import CAMERA, UPLOAD, VALIDATION

st.title("Layer Explorer")
st.markdown("Give the network a photo and follow it through every layer: what it sees, what each layer makes of it, and its verdict.")

# --- the photo --------------------------------------------------------------------------------


def sample_choices() -> dict[str, tuple[object, str]]:
    """name -> (a loader or a path, true label): Chelsea, plus three cats and three dogs from the dataset."""
    choices: dict[str, tuple[object, str]] = {common.SAMPLE: (common.chelsea, "cat")}
    dataset = common.current_dataset()
    if dataset is not None:
        rng = random.Random(13)
        for label, name in enumerate(CLASS_NAMES):
            pool = [path for path, lab in dataset.items if lab == label]
            for path in rng.sample(pool, min(3, len(pool))):
                choices[f"{Path(path).name} (a {name}, from the dataset)"] = (path, name)
    return choices


def choose_photo():
    """(Photo, where it came from, its true label or None, its path in the dataset or None, the
    photo widgets' values that choose it again), or stop the page with one message."""
    split = common.current_split()
    sources = list(common.PHOTO_SOURCES) + ([VALIDATION] if split is not None and split.val else [])
    source = st.radio("Photo", sources, horizontal=True, key="photo_source", label_visibility="collapsed")
    if source in (UPLOAD, CAMERA):
        return from_a_file(source) + ({"photo_source": source},)
    if source == VALIDATION:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        if c2.button("Random", icon=":material/shuffle:", help="Pick a validation image at random", width="stretch"):
            st.session_state["val_index"] = random.randrange(len(split.val))
        index = c1.number_input(
            f"Validation image (0 to {len(split.val) - 1:,})", min_value=0, max_value=len(split.val) - 1, step=1, key="val_index"
        )
        path, label = split.val[int(index)]
        return load_path(path), Path(path).name, CLASS_NAMES[label], path, {"photo_source": source, "val_index": int(index)}
    choices = sample_choices()
    name = st.selectbox("Sample photo", list(choices), key="sample_name")
    picked, label = choices[name]
    widgets = {"photo_source": source, "sample_name": name}
    if callable(picked):
        return picked(), name, label, None, widgets
    return load_path(picked), name, label, picked, widgets


def from_a_file(source: str):
    """(Photo, its name, None, None) from the uploader or the camera; else the one this source gave
    before a visit to another page (its widget forgot the file); else stop with one message."""
    key = "upload" if source == UPLOAD else "camera"
    if source == UPLOAD:
        given = st.file_uploader(
            "Upload a photo of a cat or a dog",
            type=common.UPLOAD_TYPES,
            help="JPEG, PNG, WebP, BMP or GIF. Nothing is kept after you leave.",
            key=key, on_change=forget_if_cleared, args=(key, source),
        )
    else:
        given = st.columns([2, 3])[0].camera_input(
            "Take a photo of a cat or a dog", help="Nothing is kept after you leave.",
            key=key, on_change=forget_if_cleared, args=(key, source),
        )
    if given is None:
        kept = st.session_state.get(common.EXPLORED)
        if kept is None or kept.widgets != {"photo_source": source}:
            if source == UPLOAD:
                st.info("Choose a photo above, or drag one onto the box.", icon=":material/upload:")
            else:
                st.info("Allow the browser to use the camera, then take a photo.", icon=":material/photo_camera:")
            st.stop()
        st.caption(f"{kept.name}, kept from your last visit: {'upload' if source == UPLOAD else 'take'} another to replace it.")
        return kept.photo, kept.name, None, None
    try:
        if source == UPLOAD:
            return common.photo_from_upload(given), given.name, None, None
        return common.photo_from_camera(given), "Camera photo", None, None
    except CnnvizError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


def forget_if_cleared(key: str, source: str) -> None:
    """The visitor removed the file from its widget: forget the photo kept from it too."""
    kept = st.session_state.get(common.EXPLORED)
    if st.session_state.get(key) is None and kept is not None and kept.widgets == {"photo_source": source}:
        del st.session_state[common.EXPLORED]


def load_path(path: str):
    try:
        return common.photo_from_path(path)
    except CnnvizError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


photo, photo_name, true_label, dataset_path, widgets = choose_photo()
st.session_state[common.EXPLORED] = common.Explored(photo, photo_name, widgets)  # Home's overview draws it

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
report = common.photo_report(choice.model, photo)
verdict = report.verdict

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

# --- the tabs: only the open one is drawn, and computes -----------------------------------------

# A visitor looks at one tab at a time; drawn all at once, the nine made the first run take
# 2.0-2.6 s. Opening another tab reruns the page, whose photo report is remembered.
shown = explorer_tabs.Shown(report, weights_fingerprint(choice.model), choice.description, photo_name, common.photos_seen_by(choice))
tabs = st.tabs(list(explorer_tabs.TABS), key=explorer_tabs.TAB, on_change="rerun")
for tab, draw in zip(tabs, explorer_tabs.TABS.values()):
    if tab.open:
        with tab:
            draw(shown)
