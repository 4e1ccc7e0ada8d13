"""Data: where the photos are, what was found and skipped, how they split, what they look like."""

import random
from pathlib import Path

import pandas as pd
import streamlit as st

from cnnviz import CLASS_NAMES, CnnvizError, charts, pictures
from cnnviz.download import download_dataset
from cnnviz.images import IMAGE_SIZE
from cnnviz.split import split_dataset
from cnnviz_app import common

st.title("Data")
st.markdown(
    "The network learns from labelled photos: each is a cat (label 0) or a dog (label 1). "
    "A *training* set teaches it; a separate *validation* set, never trained on, tells how well it does on photos it has not seen."
)


def progress_reporter(bar, verb: str):
    """A progress(done, total) callable that moves `bar`; a download reports bytes, then files."""
    phase = {"total": None, "step": 0}

    def report(done: int, total: int) -> None:
        if total != phase["total"]:
            phase["total"], phase["step"] = total, phase["step"] + 1
        fraction = min(1.0, done / total) if total else 0.0
        if verb == "download" and phase["step"] == 1:
            text = f"Downloading: {done / 2**20:,.0f} of {total / 2**20:,.0f} MB"
        else:
            text = f"Checking every photo: {done:,} of {total:,}"
        bar.progress(fraction, text=text)

    return report


# --- where the photos are --------------------------------------------------------------------

env_folder = common.env_data_folder()
if env_folder:
    folder = env_folder
    st.info(f"Using the folder set in the environment variable `{common.DATA_ENV}`: `{env_folder}`", icon=":material/folder:")
else:
    # Show the session's folder (after a download, or coming back to this page); a widget's
    # value can only be set before it is drawn.
    if common.DATA_FOLDER in st.session_state and not st.session_state.get("folder_input"):
        st.session_state["folder_input"] = st.session_state[common.DATA_FOLDER]
    folder = st.text_input(
        "Folder with the photos",
        key="folder_input",
        placeholder="/path/to/dogs-vs-cats/train   or   /path/to/PetImages",
        help="Kaggle's train/ folder (cat.0.jpg, dog.0.jpg, …), Microsoft's PetImages/ (Cat/ and Dog/), "
        "or any folder with cat/ and dog/ subfolders.",
    ).strip()

dataset = None
if folder:
    if st.session_state.get(common.DATA_FOLDER) != folder:
        bar = st.progress(0.0, text="Looking for photos…")
        try:
            dataset = common.scan_folder(folder, progress=progress_reporter(bar, "scan"))
        except CnnvizError as exc:
            common.forget_dataset()
            st.error(str(exc), icon=":material/error:")
        finally:
            bar.empty()
    else:
        dataset = st.session_state[common.DATASET]
else:
    st.markdown(
        "**No photos yet?** Download Microsoft's PetImages archive: the same Asirra cat and dog photos as the "
        "tutorial's Kaggle set, packaged by Microsoft in Cat/ and Dog/ folders. A few of its files are broken; "
        "the scan skips them and says which."
    )
    if st.button("Download the dataset", icon=":material/download:", type="primary"):
        bar = st.progress(0.0, text="Starting the download…")
        try:
            result = download_dataset(progress=progress_reporter(bar, "download"))
        except CnnvizError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            common.forget_dataset()
            st.session_state[common.DATASET] = result.dataset
            st.session_state[common.DATA_FOLDER] = str(result.root)
            st.rerun()
        finally:
            bar.empty()
    st.caption(
        "The archive is kept in cnnviz's cache folder, so it is downloaded once. "
        "Stay on this page until it has finished: leaving the page stops the download."
    )

if dataset is None:
    st.stop()

# --- what was found ----------------------------------------------------------------------------

counts = dataset.counts()
skipped = dataset.skipped
st.subheader(f"Found {counts['cat']:,} cats, {counts['dog']:,} dogs, {len(skipped):,} skipped", anchor=False)
top = st.columns([4, 1], vertical_alignment="center")
top[0].caption(f"In `{dataset.root}`, laid out as {dataset.layout}.")
if top[1].button("Scan again", icon=":material/refresh:", help="Look at the folder again, e.g. after adding photos."):
    common.forget_dataset()
    st.rerun()
with st.expander(f"Skipped files ({len(skipped):,}) and why", expanded=False):
    if skipped:
        st.dataframe(
            pd.DataFrame([{"file": str(Path(p).relative_to(dataset.root)) if p.startswith(str(dataset.root)) else p, "reason": r} for p, r in skipped]),
            hide_index=True,
            width="stretch",
        )
    else:
        st.write("None: every file in the folder is a readable photo.")

# --- the split -----------------------------------------------------------------------------------

st.subheader("Training and validation")
c1, c2, c3 = st.columns(3)
train_size = c1.number_input("Training images", min_value=2, value=common.DEFAULT_TRAIN, step=1000, key="train_size")
val_size = c2.number_input("Validation images", min_value=2, value=common.DEFAULT_VAL, step=400, key="val_size")
seed = c3.number_input("Seed", min_value=0, value=common.DEFAULT_SEED, step=1, key="split_seed",
                       help="The same seed always gives the same split.")

try:
    key = (str(dataset.root), len(dataset.items), int(train_size), int(val_size), int(seed))
    split = common.memo(key, lambda: split_dataset(dataset, int(train_size), int(val_size), int(seed)), slot="_split_memo", keep=2)
except CnnvizError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
st.session_state[common.SPLIT] = split
train_counts, val_counts = common.count_labels(split.train), common.count_labels(split.val)
st.markdown(
    f"**{len(split.train):,}** training images ({train_counts['cat']:,} cats, {train_counts['dog']:,} dogs) and "
    f"**{len(split.val):,}** validation images ({val_counts['cat']:,} cats, {val_counts['dog']:,} dogs), seed {split.seed}. "
    "Byte-identical copies of a file always land on the same side. Near-duplicates (the same photo resized, "
    "cropped or saved again) are not detected, so validation may still hold a photo the network trained on in another form."
)
if split.note:
    st.info(split.note, icon=":material/info:")
st.caption(
    f"The defaults are the tutorial's {common.DEFAULT_TRAIN:,} and {common.DEFAULT_VAL:,}; the Training page offers a faster workshop size too."
)

chart_col, grid_col = st.columns([2, 3], gap="large")
with chart_col:
    st.markdown("**Class balance**")
    st.plotly_chart(
        charts.class_balance({"whole folder": counts, "training": train_counts, "validation": val_counts}),
        width="stretch",
        config={"displayModeBar": False},
    )

# --- what the photos look like -----------------------------------------------------------------

with grid_col:
    head = st.columns([3, 1], vertical_alignment="center")
    head[0].markdown("**A few of the photos, with their labels**")
    if head[1].button("Reshuffle", icon=":material/shuffle:"):
        st.session_state["sample_seed"] = st.session_state.get("sample_seed", 0) + 1
    rng = random.Random(st.session_state.get("sample_seed", 0))
    picks = rng.sample(dataset.items, min(12, len(dataset.items)))
    per_row = 4
    for start in range(0, len(picks), per_row):
        cells = st.columns(per_row)
        for cell, (path, label) in zip(cells, picks[start : start + per_row]):
            try:
                photo = common.photo_from_path(path)
            except CnnvizError:
                cell.caption(f"{Path(path).name}: unreadable now")
                continue
            cell.image(pictures.square_thumbnail(photo.original, 200), caption=CLASS_NAMES[label], width="stretch")
    st.caption(f"Shown cropped to squares; the network squashes each whole photo to {IMAGE_SIZE} × {IMAGE_SIZE} instead.")
