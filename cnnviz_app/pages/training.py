"""Training: one epoch at a time, live, on this browser session's own copy of the network.

The epoch runs in a background thread (cnnviz.jobs.TrainingJob) kept in session state; a
fragment polls it every second while it runs, so the page stays usable, and leaving the
page and coming back neither stops nor corrupts the epoch. Every number comes from cnnviz.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import streamlit as st

from cnnviz_app.common import (
    REPO,
    SESSION_MODEL,
    SESSION_MODEL_INFO,
    SESSION_MODEL_OWN,
    SESSION_MODEL_SEEN,
    SPLIT,
    TRAINING_JOB,
    current_dataset,
    current_split,
    env_data_folder,
    memo,
    never_trained_on,
    shipped_model,
    training_in_progress,
)

from cnnviz.errors import CnnvizError  # noqa: E402  (pages.common puts the repo on sys.path)
from cnnviz_app.session_guard import watch  # noqa: E402

HISTORY = "training_history"  # cnnviz.jobs.History of the session model
FLASH = "training_flash"  # (kind, text): the outcome of the last save/load/reset, shown once
TRAIN_FLASH = "training_train_flash"  # why "Train one epoch" could not start, shown once
SAVED_BY_ME = "training_saved_files"  # files this session wrote: it may overwrite those, not others'
LAST_SAVED = "training_last_saved"
SAVE_ENV = "CNNVIZ_SAVE_DIR"
BATCH_SIZE = 32  # the tutorial's
POLL_SECONDS = 1.0

COUNTS = {  # choice -> (train, validation)
    "workshop": (2_000, 800),
    "tutorial": (16_000, 6_400),
}
COUNT_LABELS = {
    "workshop": "Workshop: 2,000 training / 800 validation photos",
    "tutorial": "The tutorial's: 16,000 / 6,400",
}
COUNT_CAPTIONS = {
    "workshop": "fast: the values the tutorial's code has commented out",
    "tutorial": "roughly ten minutes an epoch on a 2-core laptop",
}


def save_dir() -> Path:
    """Where this server writes weights: $CNNVIZ_SAVE_DIR, or saved/ beside the app (weights/ is the shipped, read-only set)."""
    return Path(os.environ.get(SAVE_ENV) or REPO / "saved")


# --- the session's model ---------------------------------------------------------------------


def session_model():
    """This session's own compiled model, made untrained on first use.

    It starts from random weights, as the tutorial does, so "Train one epoch" shows a room
    the network learning from a coin toss; the shipped weights are one "Load weights" away.
    """
    from cnnviz.jobs import History

    model = st.session_state.get(SESSION_MODEL)
    if model is None:
        _replace_model(_untrained(), "untrained: random starting weights, ready to learn", own=False)
        model = st.session_state[SESSION_MODEL]
    if HISTORY not in st.session_state:
        st.session_state[HISTORY] = History()
    return model


def _untrained():
    from cnnviz.model import build_model, compile_model

    return compile_model(build_model())


def _replace_model(model, info: str, card: dict | None = None, *, own: bool) -> None:
    """Make `model` this session's; `own` says whether other pages should now offer it.

    `card` None means fresh random weights; a loaded file's card says what they were trained on.
    """
    from cnnviz.jobs import History
    from cnnviz.cards import card_epochs, card_trained_on

    st.session_state[SESSION_MODEL] = model
    st.session_state[SESSION_MODEL_SEEN] = frozenset() if card is None else card_trained_on(card)
    st.session_state[SESSION_MODEL_INFO] = info
    st.session_state[SESSION_MODEL_OWN] = own
    st.session_state[HISTORY] = History(base_epoch=card_epochs(card) or 0)  # a loaded file's epochs go on counting
    st.session_state.pop(TRAINING_JOB, None)


# --- which photos -----------------------------------------------------------------------------


def chosen_split(choice: str):
    """The split to train on for a sample-count choice, or None without data.

    The dataset and the seed come from the Data page (pages.common); the sizes from `choice`.
    Splits are remembered per (dataset, choice, seed), so reruns do not recompute them.
    """
    from cnnviz.split import split_dataset

    dataset = current_dataset()
    base = current_split()
    if dataset is None or base is None:
        return None
    if choice == "data_page":
        return base
    train, val = COUNTS[choice]
    key = (id(dataset), choice, base.seed)
    memo = st.session_state.setdefault("training_splits", {})
    if key not in memo:
        memo.clear()
        memo[key] = split_dataset(dataset, train, val, base.seed)
    return memo[key]


def epoch_split(split):
    """(the split the next epoch uses, validation photos left out; None when that is unknown).

    Its validation side leaves out the photos the model has been trained on: by the file it
    was loaded from, or by epochs on another split (the workshop split's validation photos
    are training photos in the tutorial's). The training side is the split's own.
    """
    from cnnviz.split import Split

    val, left_out = never_trained_on(split.val, st.session_state.get(SESSION_MODEL_SEEN, frozenset()))
    if not left_out:
        return split, left_out
    # Kept per session, so the epochs that follow reuse its decoded validation photos.
    narrowed = memo((id(split), id(val), len(val)), lambda: Split(split.train, val, split.seed, split.note), slot="_epoch_split", keep=1)
    return narrowed, left_out


def count_options() -> tuple[list[str], dict[str, str]]:
    """The sample-count choices; the Data page's own split is offered when it differs from both."""
    labels = dict(COUNT_LABELS)
    split = st.session_state.get(SPLIT)
    if split is not None and split.note is None and (len(split.train), len(split.val)) not in COUNTS.values():
        labels["data_page"] = f"As set on the Data page: {len(split.train):,} / {len(split.val):,}"
    return list(labels), labels


# --- actions (button callbacks: they run before the page is drawn) ---------------------------


def start_training() -> None:
    from cnnviz.dataset import photo_names
    from cnnviz.jobs import start_epoch

    if training_in_progress():
        return
    split = chosen_split(st.session_state.get("training_counts", "workshop"))
    if split is None:
        st.session_state[TRAIN_FLASH] = "There are no photos to train on: see the Data page."
        return
    model = session_model()
    history = st.session_state[HISTORY]
    dataset = current_dataset()
    split, _ = epoch_split(split)
    if not split.val:
        st.session_state[TRAIN_FLASH] = (
            "The model has been trained on every validation photo of this split, so an epoch could not be judged: "
            "choose another seed on the Data page, or reset the model below."
        )
        return
    try:
        job = start_epoch(
            model,
            split,
            epoch=history.next_epoch(),
            batch_size=BATCH_SIZE,
            augment=bool(st.session_state.get("training_augment", False)),
        )
    except CnnvizError as exc:
        st.session_state[TRAIN_FLASH] = str(exc)
        return
    st.session_state[TRAINING_JOB] = job
    watch(job)  # stopped if this browser session goes away for good (tab closed)
    st.session_state["training_data"] = {
        "root": str(dataset.root),
        "layout": dataset.layout,
        "counts": dataset.counts(),
        "seed": split.seed,
        "train": len(split.train),
        "val": len(split.val),
        "augment": job.augment,
    }
    st.session_state[SESSION_MODEL_INFO] = f"being trained: epoch {job.epoch} is running"
    st.session_state[SESSION_MODEL_OWN] = True
    seen = st.session_state.get(SESSION_MODEL_SEEN, frozenset())
    if seen is not None:  # from now on: even a stopped epoch may have seen any of them
        st.session_state[SESSION_MODEL_SEEN] = seen | set(photo_names(split.train, dataset.root))


def stop_training() -> None:
    job = st.session_state.get(TRAINING_JOB)
    if job is not None:
        job.stop()


def roll_back() -> None:
    job = st.session_state.get(TRAINING_JOB)
    if job is None or job.is_alive():
        return
    job.roll_back()
    st.session_state[HISTORY].mark_rolled_back(job)
    st.session_state[SESSION_MODEL_INFO] = job.status().model_state


def _clean_name(raw: str) -> str:
    name = (raw or "").strip()
    if name.endswith(".weights.h5"):
        name = name[: -len(".weights.h5")]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise CnnvizError(
            f"'{raw}' cannot be a file name here: use up to 64 letters, digits, dots, dashes or underscores."
        )
    return name + ".weights.h5"


def save_current() -> None:
    from cnnviz.model import save_weights

    if training_in_progress():
        st.session_state[FLASH] = ("error", "An epoch is running: stop it or wait for it to end, then save.")
        return
    try:
        path = save_dir() / _clean_name(st.session_state.get("training_save_name", ""))
        mine = st.session_state.setdefault(SAVED_BY_ME, set())
        if path.exists() and str(path) not in mine:
            raise CnnvizError(f"{path.name} already exists in {path.parent} (saved by someone else): choose another name.")
        history = st.session_state[HISTORY]
        finished = [row for row in history.rows if row["kept"] and row["val_accuracy"] is not None]
        card = {
            "data": st.session_state.get("training_data"),
            "recipe": {"optimizer": "RMSprop", "batch_size": BATCH_SIZE, "loss": "binary_crossentropy"},
            "epochs": history.next_epoch() - 1,
            "val_accuracy": finished[-1]["val_accuracy"] if finished else None,
            "history": history.table(),
            "weights": st.session_state.get(SESSION_MODEL_INFO),
            "saved_from": "the cnnviz app's Training page",
        }
        if (seen := st.session_state.get(SESSION_MODEL_SEEN, frozenset())) is not None:
            card["trained_on"] = sorted(seen)
        save_weights(session_model(), path, card)
    except (CnnvizError, OSError) as exc:
        st.session_state[FLASH] = ("error", f"Not saved: {exc}")
        return
    mine.add(str(path))
    st.session_state[LAST_SAVED] = str(path)
    st.session_state[FLASH] = ("success", f"Saved {path.name} and its model card in {path.parent}.")


def load_into_session(path: Path, label: str) -> None:
    """Load a weight file into a fresh compiled network; on any error the current model stays."""
    from cnnviz.model import load_weights
    from cnnviz.cards import card_accuracy, card_path

    if training_in_progress():
        st.session_state[FLASH] = ("error", "An epoch is running: stop it or wait for it to end, then load.")
        return
    fresh = _untrained()
    try:
        card = load_weights(fresh, path)
    except CnnvizError as exc:
        st.session_state[FLASH] = ("error", f"Not loaded: {exc} The current model is unchanged.")
        return
    _replace_model(fresh, f"loaded from {label}", card, own=True)
    if not card and card_path(path).is_file():  # a save killed between its two renames
        st.session_state[FLASH] = (
            "warning",
            f"Loaded {label}. Its card, {card_path(path).name}, belongs to another save of this file, "
            "so its figures are not used.",
        )
        return
    acc = card_accuracy(card)
    extra = f" (its card: val_accuracy {acc:.3f})" if acc is not None else ""
    st.session_state[FLASH] = ("success", f"Loaded {label}{extra}.")


def load_selected() -> None:
    source = st.session_state.get("training_load_source")
    if source == "upload":
        uploaded = st.session_state.get("training_upload")
        if uploaded is None:
            st.session_state[FLASH] = ("error", "Choose a .weights.h5 file to upload first.")
            return
        name = Path(uploaded.name).name or "upload.weights.h5"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(uploaded.getvalue())
            load_into_session(path, f"the uploaded file {name}")
        return
    chosen = st.session_state.get(f"training_load_{source}")
    if not chosen:
        st.session_state[FLASH] = ("error", "There is no file to load here.")
        return
    where = "the shipped weights" if source == "shipped" else "your saved file"
    load_into_session(Path(chosen), f"{where} {Path(chosen).name}")


def reset_untrained() -> None:
    if training_in_progress():
        st.session_state[FLASH] = ("error", "An epoch is running: stop it first, then reset.")
        return
    _replace_model(_untrained(), "untrained: random starting weights (reset on this page)", own=False)
    st.session_state[FLASH] = ("success", "The model is untrained again: new random weights, a fresh optimizer.")


# --- drawing ------------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _short_duration(seconds: float) -> str:
    """For a metric, which has room for about six characters: 45s, 1m 19s, 1h 05m."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def live_panel() -> None:
    """The running epoch, or the last one's outcome. Polled every second while an epoch runs."""
    from cnnviz.charts import batch_curves

    job = st.session_state.get(TRAINING_JOB)
    if job is None:
        return
    status = job.status()
    history = st.session_state[HISTORY]
    if status.state != "running" and history.record(job):
        st.session_state[SESSION_MODEL_INFO] = status.model_state
        st.rerun()  # the whole page: buttons enabled again, the history updated

    latest = status.latest
    if status.state == "running":
        if status.validating:
            text = f"Epoch {status.epoch}: all {status.batches} batches trained; validating on {len(job.split.val):,} photos it never trains on…"
        elif latest is None:
            text = f"Epoch {status.epoch}: reading the first photos and preparing the network…"
        else:
            text = (
                f"Epoch {status.epoch}: batch {latest.batch} of {status.batches} · "
                f"{latest.images_per_second:.1f} images/s · about {_duration(latest.seconds_left)} left to train"
            )
        st.progress(status.fraction, text=text)
        cols = st.columns([1, 1, 1, 1, 1.3])
        cols[0].metric("loss (so far)", f"{latest.loss:.4f}" if latest else "–")
        cols[1].metric("accuracy (so far)", f"{latest.accuracy:.1%}" if latest else "–")
        cols[2].metric("images/s", f"{latest.images_per_second:.1f}" if latest else "–")
        cols[3].metric("time left", _short_duration(latest.seconds_left) if latest else "–")
        with cols[4]:
            st.button(
                "Stop",
                key="training_stop",
                icon=":material/stop_circle:",
                on_click=stop_training,
                disabled=job.stop_requested,
                help="Ends the epoch after the batch in progress. You can keep the weights or roll back.",
            )
            if job.stop_requested:
                st.caption("Stopping after this batch…")
    else:
        _outcome(job, status)

    if status.progress:
        st.plotly_chart(batch_curves(status.progress, status.batches), key="training_curves")


def _outcome(job, status) -> None:
    r = status.result
    if status.state == "finished":
        st.success(
            f"Epoch {status.epoch} finished in {_duration(r.seconds)}: **val_accuracy {r.val_accuracy:.4f}** "
            f"on {len(job.split.val):,} validation photos the network never trained on.",
            icon=":material/check_circle:",
        )
        cols = st.columns(5)
        cols[0].metric("val_accuracy", f"{r.val_accuracy:.1%}", help="Share of validation photos judged right (P(dog) ≥ 0.5 means dog).")
        cols[1].metric("val_loss", f"{r.val_loss:.4f}", help="Binary cross-entropy on the validation photos.")
        cols[2].metric("accuracy (training)", f"{r.accuracy:.1%}", help="Running mean over the epoch's batches, while the weights were still changing.")
        cols[3].metric("loss (training)", f"{r.loss:.4f}")
        cols[4].metric("images/s", f"{r.images_per_second:.1f}", help="Training pass only.")
        reference = shipped_run_summary()
        if reference:
            st.caption(reference)
        if status.warning:
            st.warning(status.warning)
        return
    if status.state == "stopped" and status.rolled_back:
        st.info(
            f"Epoch {status.epoch} was stopped after batch {status.batches_done} of {status.batches} and rolled back: "
            f"the model is {status.model_state}."
        )
    elif status.state == "stopped":
        st.warning(
            f"Epoch {status.epoch} was stopped after batch {status.batches_done} of {status.batches}, before "
            f"validation. The model's weights: {status.model_state}. Train on from here, or roll back."
        )
    else:  # failed
        st.error(status.error)
        if status.rolled_back:
            st.info(f"Rolled back: the model is {status.model_state}.")
        else:
            st.caption(f"The model's weights: {status.model_state}.")
    if status.can_roll_back and st.button(
        "Roll back to the epoch's start",
        key="training_roll_back",
        icon=":material/undo:",
        help="Puts back the weights (and the optimizer's state) from before this epoch's first batch.",
    ):
        roll_back()
        st.rerun()  # the whole page, not only this fragment: the history marks the epoch rolled back


def weights_panel(running: bool) -> None:
    from cnnviz.model import WEIGHTS_DIR, list_weight_files
    from cnnviz.cards import card_path

    save_col, load_col = st.columns(2, gap="large")
    with save_col:
        st.markdown("**Save weights**")
        st.text_input(
            "File name",
            value="my-cnn",
            key="training_save_name",
            persist_state="session",
            help=f"Saved as NAME.weights.h5 with its model card NAME.card.json in {save_dir()}.",
        )
        st.button("Save weights", key="training_save", icon=":material/save:", on_click=save_current, disabled=running)
        last = st.session_state.get(LAST_SAVED)
        if last and Path(last).is_file():
            st.download_button(
                f"Download {Path(last).name}",
                data=Path(last).read_bytes(),
                file_name=Path(last).name,
                mime="application/octet-stream",
                key="training_download",
                on_click="ignore",
                icon=":material/download:",
            )
            card = card_path(last)
            if card.is_file():  # the card says what the weights are: it travels with them
                st.download_button(
                    f"Download its card {card.name}",
                    data=card.read_bytes(),
                    file_name=card.name,
                    mime="application/json",
                    key="training_download_card",
                    on_click="ignore",
                    icon=":material/description:",
                )
    with load_col:
        st.markdown("**Load weights**")
        shipped = list_weight_files(WEIGHTS_DIR)
        saved = list_weight_files(save_dir())
        source = st.radio(
            "From",
            ["shipped", "saved", "upload"],
            format_func={"shipped": "shipped weights", "saved": "a saved file", "upload": "upload a .weights.h5"}.get,
            horizontal=True,
            key="training_load_source",
            persist_state="session",
        )
        if source == "upload":
            st.file_uploader(
                "A .weights.h5 file saved by cnnviz",
                type=["h5"],
                key="training_upload",
                help="Only arrays are read from it; nothing in the file is executed.",
            )
        else:
            files = shipped if source == "shipped" else saved
            if files:
                st.selectbox("File", [str(p) for p in files], format_func=lambda p: Path(p).name, key=f"training_load_{source}")
            elif source == "shipped":
                st.caption("No weight file ships in weights/ yet: the shipped network is untrained.")
            else:
                st.caption(f"Nothing saved yet in {save_dir()}.")
        buttons = st.columns(2)
        buttons[0].button("Load weights", key="training_load", icon=":material/upload_file:", on_click=load_selected, disabled=running)
        buttons[1].button(
            "Reset to untrained",
            key="training_reset",
            icon=":material/restart_alt:",
            on_click=reset_untrained,
            disabled=running,
            help="New random weights and a fresh optimizer; the history starts over.",
        )


def shipped_run_summary() -> str | None:
    """How the shipped weights' own training went, read from their card: a yardstick, not a promise."""
    from cnnviz.cards import card_history

    _model, card = shipped_model()
    history = [h for h in card_history(card) if h.get("val_accuracy") is not None]
    if not history:
        return None
    first, best = history[0], max(history, key=lambda h: h["val_accuracy"])
    train_size = (card.get("split") or {}).get("train")
    on = f" on {train_size:,} photos" if train_size else ""
    return (
        f"For comparison, the shipped weights' own training{on}: val_accuracy {first['val_accuracy']:.1%} "
        f"after epoch {first['epoch']}, {best['val_accuracy']:.1%} at its best (epoch {best['epoch']})."
    )


def no_data_notice() -> None:
    st.warning(
        "No photos to train on yet. Either start the app with `CNNVIZ_DATA=/path/to/train` (the folder of "
        "Kaggle's cat.N.jpg / dog.N.jpg files, or Microsoft's PetImages with Cat/ and Dog/), or open the "
        "Data page to type a folder's path or download Microsoft's Dogs-vs-Cats photos (about 800 MB)."
    )
    st.page_link("cnnviz_app/pages/data.py", label="Open the Data page", icon=":material/photo_library:")


# --- the page -------------------------------------------------------------------------------------

st.title("Training")
st.markdown(
    "One **epoch** shows the network every training photo once, in batches of 32. For each batch it "
    "makes its guesses (the forward pass), measures how wrong they are (the loss), works out how each "
    "weight should change to lower the loss (backpropagation: dLoss/dW), and nudges every weight a "
    "little (RMSprop). Then it is tested on validation photos it never trains on: **val_accuracy**."
)
with st.expander("The loss actually used: binary cross-entropy"):
    st.latex(r"\text{loss} = -\frac{1}{N}\sum_{i=1}^{N}\Big[y_i \log p_i + (1-y_i)\log(1-p_i)\Big]")
    st.markdown(
        "$p_i$ is the network's P(dog) for photo $i$, $y_i$ is 1 for a dog and 0 for a cat. A confident wrong "
        "guess costs a lot (log of a small number); a 50/50 guess costs log 2 ≈ 0.693, which is where an untrained "
        "network starts. The tutorial's text calls the loss mean squared error, but its code trains with this one."
    )

model = session_model()
history = st.session_state[HISTORY]
job = st.session_state.get(TRAINING_JOB)
if job is not None and not job.is_alive() and history.record(job):  # it ended while the page was away
    st.session_state[SESSION_MODEL_INFO] = job.status().model_state
running = training_in_progress()

st.caption(f"This session's model: **{st.session_state.get(SESSION_MODEL_INFO)}**. "
           "Only this browser session trains it; the shipped weights and other attendees' models never change."
           + ("" if st.session_state.get(SESSION_MODEL_OWN) else
              " It starts from random weights so you can watch it learn; to go on from the shipped weights "
              "instead, load them under Weights below."))

flash = st.session_state.pop(FLASH, None)
train_flash = st.session_state.pop(TRAIN_FLASH, None)

dataset = current_dataset()
if dataset is None or current_split() is None:
    no_data_notice()
    folder = env_data_folder()
    if folder:
        st.error(f"CNNVIZ_DATA is set to {folder}, but no usable photos were found there: the Data page says why.")
else:
    settings, action = st.columns([3, 2], gap="large")
    with settings:
        options, labels = count_options()
        st.radio(
            "How many photos",
            options,
            format_func=labels.get,
            captions=[COUNT_CAPTIONS.get(option, "its own seed and sizes") for option in options],
            key="training_counts",
            persist_state="session",
            disabled=running,
        )
        st.checkbox(
            "Augment the training photos (random flips, small rotations and zooms)",
            key="training_augment",
            persist_state="session",
            disabled=running,
            help="The tutorial's generator did this; it slows learning per epoch but helps against overfitting.",
        )
    split = chosen_split(st.session_state.get("training_counts", "workshop"))
    with action:
        st.button(
            "Train one epoch",
            key="training_train",
            type="primary",
            icon=":material/play_arrow:",
            on_click=start_training,
            disabled=running,
            help=f"Epoch {history.next_epoch()} continues from the current weights.",
        )
        counts = dataset.counts()
        split, left_out = epoch_split(split)
        st.markdown(
            f"Epoch {history.next_epoch()} trains on **{len(split.train):,}** photos and validates on "
            f"**{len(split.val):,}**, in batches of {BATCH_SIZE}."
        )
        if left_out:
            st.caption(
                f"{left_out:,} validation photos are left out: the model was trained on them before "
                "(by the file it was loaded from, or on another split)."
            )
        elif left_out is None:
            st.caption(
                "The loaded file's card does not list the photos it was trained on: if some are among these "
                "validation photos, val_accuracy flatters the network."
            )
        st.caption(
            (f"Scaled down: the folder holds {counts['cat']:,} cats and {counts['dog']:,} dogs. " if split.note else "")
            + f"Seed {split.seed}; the folder and the seed are chosen on the Data page."
        )
        if train_flash:
            st.error(train_flash)

st.fragment(run_every=POLL_SECONDS if running else None)(live_panel)()

st.subheader("History")
if history.rows:
    import pandas as pd

    from cnnviz.charts import epoch_history

    table = pd.DataFrame(history.table())
    table["kept"] = table["kept"].map({True: "kept", False: "rolled back"})
    st.dataframe(
        table,
        hide_index=True,
        placeholder="–",
        column_config={
            "loss": st.column_config.NumberColumn(format="%.4f"),
            "accuracy": st.column_config.NumberColumn(format="%.4f"),
            "val_loss": st.column_config.NumberColumn(format="%.4f"),
            "val_accuracy": st.column_config.NumberColumn(format="%.4f"),
            "images/s": st.column_config.NumberColumn(format="%.1f"),
            "seconds": st.column_config.NumberColumn(format="%.0f"),
            "kept": st.column_config.TextColumn("weights"),
        },
    )
    st.plotly_chart(epoch_history([row for row in history.rows if row["kept"]]), key="training_history_chart")

    from cnnviz_app.timeline_view import learning_over_time

    learning_over_time(history)
else:
    st.caption("No epoch trained in this session yet. Each epoch continues from the weights the model holds now.")

st.subheader("Weights")
if flash is not None:
    getattr(st, flash[0])(flash[1])
weights_panel(running)
