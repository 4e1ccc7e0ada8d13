"""What the pages share: the shipped model, this session's model, the dataset and the photos.

Not a page itself: pages import it as `cnnviz_app.common`. Home imports it too, and a fresh
server's Home must paint before TensorFlow's seconds of import: so the helpers that need
TensorFlow (`session()`, `photo_report()` and `machine_speed()`) import their module when first called.

Session state keys (st.session_state), the contract between the pages
----------------------------------------------------------------------
`SESSION`          "session": this browser session's cnnviz.session.SessionModel, made
                   untrained by `session()` on the Training page (so a room watches it learn
                   from scratch, as the tutorial does), then trained or loaded there. It holds
                   the model (never the shipped one itself), whether it is `own` (trained or
                   loaded: only then do the other pages offer it), its `description` in words,
                   the photos it was `trained_on` (None when unknown; the pages leave these out
                   of every validation figure) and the epoch `job` training it now.
`DATA_FOLDER`      "data_folder": str, the folder the session's dataset was scanned from.
`DATASET`          "dataset": cnnviz.dataset.Dataset of DATA_FOLDER (set by the Data page, or by
                   `current_dataset()` from $CNNVIZ_DATA on whichever page asks first).
`SPLIT`            "split": cnnviz.split.Split chosen on the Data page (defaults 16,000 / 6,400,
                   seed 13, scaled down for small folders; `split.note` says so).
`NETWORK`          "network": which shipped network's weights give the verdicts while the session
                   has no model of its own, "tutorial" (the default) or "modern": the sidebar's
                   switch (`network_switch()`, drawn by streamlit_app.py on every page).
`EXPLORED`         "explored": `Explored`, the photo the Layer Explorer showed last, with the values
                   of its photo widgets that show it again. Home draws its overview of it; the
                   Explorer shows an uploaded or camera photo again after a visit to another page
                   (those widgets forget their file on a page switch) until its widget is cleared.

Helpers: `shipped_model()`, `machine_speed()`, `session()`, `session_if_made()`, `session_model_in_use()`,
`current_model()`, `photo_report()`, `env_data_folder()`, `scan_folder()`, `current_dataset()`,
`current_split()`, `photo_from_upload()`, `photo_from_camera()`, `photo_from_path()`, `chelsea()`,
`explored()`, `memo()`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cnnviz import CLASS_NAMES, images
from cnnviz.cards import card_accuracy, card_epochs, card_trained_on, read_card
from cnnviz.dataset import find_dataset, photo_names, unseen
from cnnviz.errors import CnnvizError
from cnnviz.images import Photo, load_photo
from cnnviz.model import default_weights_path, load_default_model, weights_fingerprint
from cnnviz.split import split_dataset

REPO = Path(__file__).resolve().parent.parent


SESSION = "session"
DATA_FOLDER = "data_folder"
DATASET = "dataset"
SPLIT = "split"
EXPLORED = "explored"
NETWORK = "network"
SHIPPED_NETWORKS = ("tutorial", "modern")  # the networks weights/ may hold a file of, the tutorial's the default

DATA_ENV = "CNNVIZ_DATA"
DEFAULT_TRAIN, DEFAULT_VAL, DEFAULT_SEED = 16_000, 6_400, 13  # the tutorial's split
# The Training page's workshop setting, chosen by measurement (benchmarks/workshop_default.py,
# README "Workshop epoch"): the tutorial's network and rate on 2,000 photos an epoch. Its first
# epoch often ends at 50%, every dense unit silenced; most random starts are past 65% by the
# eighth, and 1e-4 stayed near 60% over six. So a click trains eight short epochs.
WORKSHOP_RATE, WORKSHOP_EPOCHS = 1e-3, 8
WORKSHOP_PHOTOS = (2_000, 800)  # a workshop epoch's training and validation photos: the tutorial's commented-out values
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]
# The Layer Explorer's photo sources (its "photo_source" radio), and its first sample photo: Home's until one is explored.
SAMPLES, UPLOAD, CAMERA, VALIDATION = "Sample photos", "Upload a photo", "Camera", "Validation image"
PHOTO_SOURCES = (SAMPLES, UPLOAD, CAMERA)  # and VALIDATION, where the session has validation photos
SAMPLE = "Chelsea the cat (scikit-image)"

PAGES = {  # file, relative to the repository -> title, in the tutorial's order; streamlit_app.py builds the navigation from it
    "cnnviz_app/pages/home.py": "Home",
    "cnnviz_app/pages/data.py": "Data",
    "cnnviz_app/pages/architecture.py": "Architecture",
    "cnnviz_app/pages/build.py": "Build",
    "cnnviz_app/pages/training.py": "Training",
    "cnnviz_app/pages/evaluation.py": "Evaluation",
    "cnnviz_app/pages/layer_explorer.py": "Layer Explorer",
}


# --- models --------------------------------------------------------------------------------


def shipped_model(network: str = "tutorial"):
    """(model, card or None): `network`'s newest shipped weights, or that network untrained.

    One object a network for every session of this server: read it, never train it or load
    into it (the Training page trains a model of its own, kept in SESSION).
    """
    return _shipped(network)  # always called with the name, so shipped_model() and ("tutorial") share one


@st.cache_resource(show_spinner="Loading the network…")
def _shipped(network: str):
    return load_default_model(network=network)


def shipped_network() -> str:
    """The shipped network whose verdicts this session sees (the sidebar's switch)."""
    return st.session_state.get(NETWORK, SHIPPED_NETWORKS[0])


def network_switch() -> None:
    """The sidebar's choice of shipped network, each named with its card's val_accuracy; the
    tutorial's is the default. Reads cards only: a fresh server's first page must not wait for TensorFlow."""
    def label(network: str) -> str:
        path = default_weights_path(network=network)
        accuracy = card_accuracy(read_card(path)) if path else None
        return f"{network} ({'val_accuracy ' + format(accuracy, '.3f') if accuracy is not None else 'untrained'})"

    st.sidebar.selectbox(
        "Shipped network", SHIPPED_NETWORKS, key=NETWORK, format_func=label,
        help="Whose weights give the verdicts on every page until you train or load a model of your own "
        "on the Training page: the tutorial's network, or the modern one (batch norm, eight convolutions, "
        "global average pooling). Each file's card says how it was trained.",
    )


@st.cache_resource(show_spinner="Timing a few training steps on this machine…")
def machine_speed():
    """cnnviz.calibration.Speed: this server's training and validation rates, measured once with
    the tutorial's network, for every session's epoch estimates."""
    from cnnviz.calibration import measure  # TensorFlow: see the module's docstring

    return measure()


@dataclass(frozen=True)
class ModelChoice:
    model: object  # keras.Model
    source: str  # "session", "shipped" or "untrained"
    description: str  # which weights, in words a workshop reads


def describe_card(card: dict | None) -> str:
    if not card:
        return "untrained: random starting weights (no weight file ships in weights/ yet)"
    name = Path(card.get("path", "")).name or "a shipped weight file"
    extra = []
    if (accuracy := card_accuracy(card)) is not None:
        extra.append(f"val_accuracy {accuracy:.3f}")
    if epochs := card_epochs(card):
        extra.append(f"{epochs} epochs")
    return f"the shipped weights {name}" + (f" ({', '.join(extra)})" if extra else "")


def session():
    """This session's SessionModel, made untrained on first use."""
    from cnnviz.session import SessionModel  # TensorFlow: see the module's docstring

    if st.session_state.get(SESSION) is None:
        st.session_state[SESSION] = SessionModel.untrained(WORKSHOP_RATE)
    return st.session_state[SESSION]


def session_if_made():
    """This session's SessionModel, or None before the Training page made one."""
    return st.session_state.get(SESSION)


def session_model_in_use() -> bool:
    """Whether this session has trained or loaded its own model (an untrained one is not offered)."""
    mine = session_if_made()
    return mine is not None and mine.own


def current_model(prefer: str = "session") -> ModelChoice:
    """This session's model once it has trained or loaded one (and `prefer` is "session"), else the shipped one."""
    if session_model_in_use() and prefer == "session":
        mine = session_if_made()
        return ModelChoice(mine.model, "session", f"this session's own model ({mine.description})")
    model, card = shipped_model(shipped_network())
    return ModelChoice(model, "shipped" if card else "untrained", describe_card(card))


def photos_seen_by(choice: ModelChoice) -> frozenset[str] | None:
    """The photos the chosen weights were trained on, as their card names them; None when unknown."""
    if choice.source == "session":
        return session_if_made().trained_on
    if choice.source == "shipped":
        return card_trained_on(shipped_model(shipped_network())[1])
    return frozenset()


def trained_on_photo(choice: ModelChoice, path: str) -> bool:
    """Whether the chosen weights are known to have been trained on this photo of the dataset."""
    seen, dataset = photos_seen_by(choice), current_dataset()
    return bool(seen) and dataset is not None and photo_names([(path, 0)], dataset.root)[0] in seen


def never_trained_on(items: list, seen: frozenset[str] | None) -> tuple[list, int | None]:
    """(the photos of `items` outside `seen`, how many were left out; None when `seen` is unknown).

    Validation photos the weights were trained on (the shipped weights' training photos are
    in the default split of the folder they came from; a model trained on one split is
    validated on another) would make every accuracy on the pages flatter it.
    """
    dataset = current_dataset()
    if seen is None or dataset is None:
        return items, None
    if not seen:
        return items, 0
    key = (hash(tuple(items)), hash(seen))  # the photos themselves: an id() is reused once freed
    return memo(key, lambda: unseen(items, dataset.root, seen), slot="_unseen_memo", keep=4)


def training_in_progress() -> bool:
    mine = session_if_made()
    return mine is not None and mine.training


def photo_report(model, photo: Photo):
    """The cnnviz.report.PhotoReport of `photo` through `model`'s current weights, remembered in
    this session for the last two (model, photo) pairs: the Layer Explorer and presenter mode
    draw from the same one."""
    from cnnviz.report import photo_report as compute  # TensorFlow: see the module's docstring

    return memo((weights_fingerprint(model), photo_key(photo)), lambda: compute(model, photo), keep=2)


# --- data ----------------------------------------------------------------------------------


def env_data_folder() -> str | None:
    value = os.environ.get(DATA_ENV, "").strip()
    return value or None


def scan_folder(folder: str, progress: Callable[[int, int], None] | None = None):
    """find_dataset, remembered in this session; rescans only for another folder."""
    dataset = st.session_state.get(DATASET)
    if dataset is not None and st.session_state.get(DATA_FOLDER) == folder:
        return dataset
    dataset = find_dataset(folder, progress=progress)
    st.session_state[DATASET] = dataset
    st.session_state[DATA_FOLDER] = folder
    st.session_state.pop(SPLIT, None)
    return dataset


def forget_dataset() -> None:
    for key in (DATASET, DATA_FOLDER, SPLIT):
        st.session_state.pop(key, None)


def current_dataset():
    """The session's Dataset, scanning $CNNVIZ_DATA if set and not yet scanned; None without data.

    Never raises: a broken $CNNVIZ_DATA is reported on the Data page, not on every page.
    """
    if st.session_state.get(DATASET) is not None:
        return st.session_state[DATASET]
    folder = env_data_folder()
    if folder is None:
        return None
    try:
        with st.spinner(f"Scanning {folder}…"):
            return scan_folder(folder)
    except CnnvizError:
        return None


def current_split():
    """The split chosen on the Data page, or the tutorial's default split of the dataset."""
    split = st.session_state.get(SPLIT)
    if split is not None:
        return split
    dataset = current_dataset()
    if dataset is None:
        return None
    try:
        split = split_dataset(dataset, DEFAULT_TRAIN, DEFAULT_VAL, DEFAULT_SEED)
    except CnnvizError:
        return None
    st.session_state[SPLIT] = split
    return split


def count_labels(items) -> dict[str, int]:
    counts = {name: 0 for name in CLASS_NAMES}
    for _, label in items:
        counts[CLASS_NAMES[label]] += 1
    return counts


# --- photos --------------------------------------------------------------------------------


def photo_from_upload(uploaded) -> Photo:
    """An st.file_uploader file (or anything with .getvalue() and .name) as a Photo.

    Raises CnnvizError, with a sentence for the person, for every file that is not a usable photo.
    """
    return load_photo(uploaded.getvalue(), name=getattr(uploaded, "name", None))


def photo_from_camera(shot) -> Photo:
    """An st.camera_input picture as a Photo; one sentence to take another if it cannot be read."""
    try:
        return load_photo(shot.getvalue(), name=getattr(shot, "name", None))
    except CnnvizError as exc:
        raise CnnvizError("The camera's picture could not be read: take another one, or upload a photo instead.") from exc


@st.cache_resource(max_entries=64, show_spinner=False)
def photo_from_path(path: str) -> Photo:
    """A photo from the dataset folder; Photos are read-only, so sessions share them."""
    return load_photo(path)


@st.cache_resource(show_spinner=False)
def chelsea() -> Photo:
    """Chelsea the cat, decoded once for every session."""
    return images.chelsea()


@dataclass(frozen=True)
class Explored:
    """A photo the Layer Explorer showed, and how to show it there again."""

    photo: Photo
    name: str  # as the Explorer captions it
    widgets: dict  # the Explorer's photo widgets' keys -> the values that choose this photo


def explored() -> Explored:
    """The photo the Layer Explorer showed last in this session, or the first sample photo."""
    return st.session_state.get(EXPLORED) or Explored(chelsea(), SAMPLE, {"photo_source": SAMPLES, "sample_name": SAMPLE})


def photo_key(photo: Photo) -> str:
    return hashlib.sha1(photo.network_input.tobytes()).hexdigest()


def memo(key: tuple, compute: Callable[[], object], slot: str = "_memo", keep: int = 4):
    """Per-session memory of the last few results: a rerun for a slider does not recompute."""
    store = st.session_state.setdefault(slot, {})
    if key not in store:
        if len(store) >= keep:
            store.pop(next(iter(store)))
        store[key] = compute()
    return store[key]
