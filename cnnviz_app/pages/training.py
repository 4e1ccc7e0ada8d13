"""Training: one epoch at a time, live, on this browser session's own copy of the network.

The page only draws widgets and hands the buttons to this session's cnnviz.session.SessionModel,
which trains, rolls back, loads, resets and saves. The epoch runs in a background thread
(cnnviz.jobs.TrainingJob); a fragment polls it every second while it runs, so the page stays
usable, and leaving the page and coming back neither stops nor corrupts the epoch.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from cnnviz import RULE
from cnnviz.architecture import MODERN, POOLED, TUTORIAL, feature_parameters, line_of, multiply_adds, network_line, parameters
from cnnviz.cards import card_accuracy, card_history, card_path, describe_recipe, format_rate
from cnnviz.split import split_dataset
from cnnviz.durations import duration, short_duration
from cnnviz.errors import CnnvizError
from cnnviz.charts import batch_curves, epoch_history, run_overlay
from cnnviz.compare import run_table
from cnnviz.model import DEFAULT_RATE, WEIGHTS_DIR, default_weights_path, learning_rate, list_weight_files, network_of, optimizer_of
from cnnviz.runs import TRANSFER_EPOCHS, TRANSFER_SIZES, transfer_split
from cnnviz.pipeline import augmentation_words
from cnnviz.session import EpochRunning, epoch_notes
from cnnviz.stall import stall_sentences
from cnnviz_app.common import (
    DEFAULT_TRAIN,
    DEFAULT_VAL,
    REPO,
    WORKSHOP_EPOCHS,
    WORKSHOP_PHOTOS,
    WORKSHOP_RATE,
    SPLIT,
    current_dataset,
    current_split,
    env_data_folder,
    session,
    shipped_model,
    shipped_network,
    training_in_progress,
)
from cnnviz_app.room_view import room_panel
from cnnviz_app.session_guard import watch
from cnnviz_app.timeline_view import learning_over_time

NETWORK = "training_network"
NETWORK_WORDS = {  # the networks a session can start from random weights, in cnnviz.architecture's lines
    TUTORIAL: "The tutorial's",
    POOLED: "The tutorial's, pooling after its first convolution too",
    MODERN: "Modern: batch norm, 8 convolutions, global pooling",
}
FLASH = "training_flash"  # (kind, text): the outcome of the last save/load/reset, shown once
TRAIN_FLASH = "training_train_flash"  # why "Train one epoch" could not start, shown once
EPOCHS_LEFT = "training_epochs_left"  # epochs still to run after the one running, from one click
RATE, PER_CLICK = "training_rate", "training_epochs_per_click"
OPTIMIZER, BATCH = "training_optimizer", "training_batch_size"
# A log scale: learning rates matter by their factor, and 1e-3 against 1e-4 is the README's coin toss.
RATE_STEPS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
OPTIMIZER_WORDS = {"rmsprop": "RMSprop (the tutorial's)", "adam": "Adam", "sgd": "SGD with momentum 0.9"}
OPTIMIZER_NAMES = {"rmsprop": "RMSprop", "adam": "Adam", "sgd": "SGD with momentum"}
BATCH_SIZES = (8, 16, 32, 64, 128)
SAVE_ENV = "CNNVIZ_SAVE_DIR"
BATCH_SIZE = 32  # the tutorial's
POLL_SECONDS = 1.0
MORE_EPOCHS = 3

COUNTS = {  # choice -> (train, validation)
    "workshop": WORKSHOP_PHOTOS,
    "tutorial": (DEFAULT_TRAIN, DEFAULT_VAL),
}
COUNT_LABELS = {
    "workshop": f"Workshop: {COUNTS['workshop'][0]:,} training / {COUNTS['workshop'][1]:,} validation photos",
    "tutorial": f"The tutorial's: {COUNTS['tutorial'][0]:,} / {COUNTS['tutorial'][1]:,}",
    "transfer": f"Transfer sample: {TRANSFER_SIZES[0]:,} / {TRANSFER_SIZES[1]:,}",
}
COUNT_CAPTIONS = {
    "workshop": "fast: the values the tutorial's code has commented out",
    "transfer": "validation photos the shipped weights never trained on (see Transfer below)",
}
NUMBER = st.column_config.NumberColumn
RUN_COLUMNS = {
    "best val_accuracy": NUMBER(format="%.4f"),
    "last val_accuracy": NUMBER(format="%.4f"),
    "seconds": NUMBER(format="%.0f"),
}
HISTORY_COLUMNS = {
    "loss": NUMBER(format="%.4f"),
    "accuracy": NUMBER(format="%.4f"),
    "val_loss": NUMBER(format="%.4f"),
    "val_accuracy": NUMBER(format="%.4f"),
    "images/s": NUMBER(format="%.1f"),
    "seconds": NUMBER(format="%.0f"),
    "kept": st.column_config.TextColumn("weights"),
}


def save_dir() -> Path:
    """Where this server writes weights: $CNNVIZ_SAVE_DIR, or saved/ beside the app (weights/ is the shipped, read-only set)."""
    return Path(os.environ.get(SAVE_ENV) or REPO / "saved")


# --- which photos -----------------------------------------------------------------------------


def chosen_split():
    """The split the "How many photos" choice names, or None without data.

    The dataset and the seed come from the Data page (cnnviz_app.common); the sizes from the
    choice. Splits are remembered per (dataset, choice, seed), so reruns do not recompute them.
    """
    choice = st.session_state.get("training_counts", "workshop")
    dataset, base = current_dataset(), current_split()
    if dataset is None or base is None:
        return None
    if choice == "data_page":
        return base
    key = (dataset.key, choice, base.seed)
    splits = st.session_state.setdefault("training_splits", {})
    if key not in splits:
        splits.clear()
        if choice == "transfer":  # photos judged by neither the shipped convolutions nor a head
            splits[key] = transfer_split(dataset, default_weights_path(), seed=base.seed)
        else:
            splits[key] = split_dataset(dataset, *COUNTS[choice], base.seed)
    return splits[key]


def count_options() -> tuple[list[str], dict[str, str]]:
    """The sample-count choices; the Data page's own split is offered when it differs from both."""
    labels = dict(COUNT_LABELS)
    split = st.session_state.get(SPLIT)
    if split is not None and split.note is None and (len(split.train), len(split.val)) not in COUNTS.values():
        labels["data_page"] = f"As set on the Data page: {len(split.train):,} / {len(split.val):,}"
    return list(labels), labels


def augment() -> bool:
    return bool(st.session_state.get("training_augment", False))


def batch_size() -> int:
    return int(st.session_state.get(BATCH, BATCH_SIZE))


def tutorial_epoch_estimate() -> str | None:
    """How long an epoch of the tutorial's size would take, from this session's last epoch; None before one."""
    estimate = session().epoch_seconds(*COUNTS["tutorial"])
    if estimate is None:
        return None
    seconds, epoch = estimate
    return f"about {duration(seconds)} an epoch here, from this session's epoch {epoch}"


# --- actions (button callbacks: they run before the page is drawn) ---------------------------


def start_training() -> None:
    split = chosen_split()
    if split is None:
        st.session_state[TRAIN_FLASH] = "There are no photos to train on: see the Data page."
        return
    try:
        job = session().start_epoch(split, current_dataset(), batch_size=batch_size(), augment=augment())
    except EpochRunning:
        return  # a second click while the first epoch starts
    except CnnvizError as exc:
        st.session_state[TRAIN_FLASH] = str(exc)
        return
    watch(job)  # stopped if this browser session goes away for good (tab closed)


def train_more(epochs: int) -> None:
    """Start `epochs` epochs in a row, one after the other (each its own row, curve and Stop)."""
    st.session_state[EPOCHS_LEFT] = epochs - 1
    start_training()


def start_again(rate: float) -> None:
    """Fresh random weights at learning rate `rate`, and their first epoch."""
    try:
        session().reset(rate)
    except CnnvizError as exc:
        st.session_state[TRAIN_FLASH] = str(exc)
        return
    st.session_state[EPOCHS_LEFT] = 0
    start_training()


def new_run() -> None:
    """Fresh random weights of the same network, at the handles' settings: the next run to compare."""
    try:
        session().reset(st.session_state.get(RATE))
    except CnnvizError as exc:
        st.session_state[TRAIN_FLASH] = str(exc)
        return
    train_more(epochs_per_click())


def start_transfer(learned: bool) -> None:
    """A head on the shipped convolutions (or on random ones), frozen, trained on the transfer sample
    for as many epochs as a head needs to leave chance behind (a workshop epoch's count would not)."""
    shipped, card = shipped_model()
    try:
        session().transfer(shipped if learned else None, card)
    except CnnvizError as exc:
        st.session_state[TRAIN_FLASH] = str(exc)
        return
    st.session_state["training_counts"] = "transfer"
    train_more(TRANSFER_EPOCHS)


def tutorial_epoch() -> None:
    """The tutorial's own epoch and split (scaled down to the folder)."""
    st.session_state["training_counts"] = "tutorial"
    train_more(1)


def record_epoch() -> bool:
    """Record an epoch that has ended (True if one was) and start the next of the click's epochs."""
    mine = session()
    if not mine.record():
        return False
    left = st.session_state.get(EPOCHS_LEFT, 0)
    if left and mine.rows[-1]["state"] == "finished":
        st.session_state[EPOCHS_LEFT] = left - 1
        start_training()
    else:
        st.session_state[EPOCHS_LEFT] = 0
    return True


def stop_training() -> None:
    st.session_state[EPOCHS_LEFT] = 0
    job = session().job
    if job is not None:
        job.stop()


def save_current() -> None:
    name = st.session_state.get("training_save_name", "")
    try:
        path = session().save(save_dir(), name, current_dataset(), chosen_split(), batch_size=batch_size(), augment=augment())
    except EpochRunning as exc:
        st.session_state[FLASH] = ("error", str(exc))
    except (CnnvizError, OSError) as exc:
        st.session_state[FLASH] = ("error", f"Not saved: {exc}")
    else:
        st.session_state[FLASH] = ("success", f"Saved {path.name} and its model card in {path.parent}.")


def load_into_session(path: Path, label: str) -> None:
    try:
        card = session().load(path, label)
    except EpochRunning as exc:
        st.session_state[FLASH] = ("error", str(exc))
        return
    except CnnvizError as exc:
        st.session_state[FLASH] = ("error", f"Not loaded: {exc} The current model is unchanged.")
        return
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
        load_upload(st.session_state.get("training_upload"))
        return
    chosen = st.session_state.get(f"training_load_{source}")
    if not chosen:
        st.session_state[FLASH] = ("error", "There is no file to load here.")
        return
    where = "the shipped weights" if source == "shipped" else "your saved file"
    load_into_session(Path(chosen), f"{where} {Path(chosen).name}")


def load_upload(uploaded) -> None:
    if uploaded is None:
        st.session_state[FLASH] = ("error", "Choose a .weights.h5 file to upload first.")
        return
    name = Path(uploaded.name).name or "upload.weights.h5"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(uploaded.getvalue())
        load_into_session(path, f"the uploaded file {name}")


def reset_untrained() -> None:
    try:
        session().reset()
    except EpochRunning as exc:
        st.session_state[FLASH] = ("error", str(exc))
        return
    st.session_state[FLASH] = ("success", "The model is untrained again: new random weights, a fresh optimizer.")


# --- drawing ------------------------------------------------------------------------------------


def introduction() -> None:
    st.title("Training")
    st.markdown(
        f"One **epoch** shows the network every training photo once, in batches (the tutorial's: {BATCH_SIZE} photos). For each batch it "
        "makes its guesses (the forward pass), measures how wrong they are (the loss), works out how each "
        "weight should change to lower the loss (backpropagation: dLoss/dW), and nudges every weight a "
        "little (the optimizer: the tutorial's is RMSprop). Then it is tested on validation photos it never trains on: **val_accuracy**."
    )
    with st.expander("The loss actually used: binary cross-entropy"):
        st.latex(r"\text{loss} = -\frac{1}{N}\sum_{i=1}^{N}\Big[y_i \log p_i + (1-y_i)\log(1-p_i)\Big]")
        st.markdown(
            "$p_i$ is the network's P(dog) for photo $i$, $y_i$ is 1 for a dog and 0 for a cat. A confident wrong "
            "guess costs a lot (log of a small number); a 50/50 guess costs log 2 ≈ 0.693, which is about where an "
            "untrained network starts. At this page's learning rate (shown above the Train button) the first updates often overshoot, and the running "
            "loss can climb above 2 in the first batches before it falls: not a bug. "
            "The tutorial's text calls the loss mean squared error, but its code trains with this one."
        )


def model_caption() -> None:
    mine = session()
    st.caption(
        f"This session's model: **{mine.description}**. "
        "Only this browser session trains it; the shipped weights and other attendees' models never change."
        + ("" if mine.own else
           " It starts from random weights so you can watch it learn; to go on from the shipped weights "
           "instead, load them under Weights below.")
    )
    warning = learning_rate_warning(mine)
    if warning:
        st.warning(warning)


def learning_rate_warning(mine) -> str | None:
    """When the loaded weights' own training ended at a much smaller learning rate than the next epoch's."""
    if (jump := mine.rate_jump()) is None:
        return None
    now, last = jump
    return (
        f"The next epoch trains these weights at learning rate {format_rate(now)}, {now / last:,.0f}× the "
        f"{format_rate(last)} their own training ended at: its first batches will probably undo some of "
        "what they learned, and val_accuracy may fall before it rises."
    )


def no_data_notice() -> None:
    st.warning(
        "No photos to train on yet. Either start the app with `CNNVIZ_DATA=/path/to/train` (the folder of "
        "Kaggle's cat.N.jpg / dog.N.jpg files, or Microsoft's PetImages with Cat/ and Dog/), or open the "
        "Data page to type a folder's path or download Microsoft's Dogs-vs-Cats photos (PetImages)."
    )
    st.page_link("cnnviz_app/pages/data.py", label="Open the Data page", icon=":material/photo_library:")
    folder = env_data_folder()
    if folder:
        st.error(f"CNNVIZ_DATA is set to {folder}, but no usable photos were found there: the Data page says why.")


def network_panel(running: bool) -> None:
    """Which network this session trains, read off its model (a loaded file's may be none of these)."""
    line = line_of(session().model.layers)
    st.session_state[NETWORK] = line
    words = NETWORK_WORDS if line in NETWORK_WORDS else {**NETWORK_WORDS, line: "This session's own (from the Build page or a file)"}
    st.selectbox(
        "Network",
        list(words),
        format_func=words.get,
        key=NETWORK,
        on_change=change_network,
        disabled=running,
        help="Choosing one starts it from random weights. The Architecture page shows it at once; the Layer "
        "Explorer and Evaluation use it once it has trained an epoch (before that they show the shipped weights).",
    )
    st.caption(f"`{line}`: {parameters(line):,} parameters, {multiply_adds(line) / 1e6:,.0f} million multiply-adds a photo.")


def change_network() -> None:
    line = st.session_state[NETWORK]
    if line == line_of(session().model.layers):
        return
    try:
        session().reset(network=line)
    except EpochRunning as exc:
        st.session_state[FLASH] = ("error", str(exc))


def settings_panel(running: bool) -> None:
    network_panel(running)
    options, labels = count_options()
    st.radio(
        "How many photos",
        options,
        format_func=labels.get,
        captions=[COUNT_CAPTIONS.get(option, "its own seed and sizes") if option != "tutorial" else (tutorial_epoch_estimate() or "")
                  for option in options],
        key="training_counts",
        persist_state="session",
        disabled=running,
    )
    st.checkbox(
        "Augment the training photos (random flips, small rotations and zooms)",
        key="training_augment",
        persist_state="session",
        disabled=running,
        help=f"Here: {augmentation_words()}, a new draw for every batch. The tutorial does not augment: its "
        "generator only divides the pixels by 255. The Keras blog post it links adds shears, zooms and flips. "
        "Augmentation slows learning per epoch but helps against overfitting.",
    )


def epochs_per_click() -> int:
    return int(st.session_state.setdefault(PER_CLICK, WORKSHOP_EPOCHS))


def rate_panel(running: bool) -> None:
    """The handles (learning rate, optimizer, batch size), read from the model where it holds them,
    and the epochs a click runs; the tutorial's exact setting one click away."""
    mine = session()
    now = learning_rate(mine.model) or DEFAULT_RATE
    steps = sorted({*RATE_STEPS, *(() if any(math.isclose(r, now, rel_tol=1e-5) for r in RATE_STEPS) else (now,))})
    st.session_state[RATE] = next(r for r in steps if math.isclose(r, now, rel_tol=1e-5))
    st.select_slider(
        "Learning rate (log scale)",
        steps,
        format_func=lambda r: f"{format_rate(r)} · tutorial" if r == DEFAULT_RATE else format_rate(r),
        key=RATE,
        on_change=lambda: session().set_rate(st.session_state[RATE]),
        disabled=running,
        help="How big the optimizer's steps are; each mark is about three times the last. RMSprop's first steps "
        "move every weight by about three times the rate, whatever the gradient: at 1e-3 that is often enough "
        "to push every unit of dense_1 below zero.",
    )
    if now not in RATE_STEPS:
        st.caption(f"The model's optimizer is at {format_rate(now)}, from the weights loaded.")
    handles = st.columns(2)
    st.session_state[OPTIMIZER] = optimizer_of(mine.model)
    handles[0].selectbox(
        "Optimizer", list(OPTIMIZER_WORDS), format_func=OPTIMIZER_WORDS.get, key=OPTIMIZER,
        on_change=lambda: session().set_optimizer(st.session_state[OPTIMIZER]), disabled=running,
        help="Changing it keeps the weights and starts the new optimizer's running averages from zero.",
    )
    st.session_state.setdefault(BATCH, BATCH_SIZE)
    handles[1].select_slider(
        "Batch size", BATCH_SIZES, format_func=lambda b: f"{b} · tutorial" if b == BATCH_SIZE else str(b), key=BATCH,
        disabled=running, help="Photos per weight update: smaller batches update more often, with noisier gradients.",
    )
    epochs_per_click()
    st.number_input("Epochs per click", min_value=1, max_value=10, step=1, key=PER_CLICK, disabled=running)
    st.caption(
        f"The workshop setting (learning rate {format_rate(WORKSHOP_RATE)}, {COUNTS['workshop'][0]:,} photos an epoch, "
        f"{WORKSHOP_EPOCHS} epochs a click) was chosen by training random starts on this project's machines (README, "
        "Workshop epoch): the first short epoch often ends at 50% with every dense unit silenced, and most starts "
        f"climb past 65% within {WORKSHOP_EPOCHS}. The tutorial trained one epoch of "
        f"{COUNTS['tutorial'][0]:,} photos."
    )
    st.button(
        "Use the tutorial's exact setting", key="training_tutorial_setting", icon=":material/school:",
        on_click=tutorial_setting, disabled=running,
        help=f"{COUNTS['tutorial'][0]:,} / {COUNTS['tutorial'][1]:,} photos, RMSprop at learning rate "
        f"{format_rate(DEFAULT_RATE)}, batches of {BATCH_SIZE}, one epoch a click.",
    )


def tutorial_setting() -> None:
    st.session_state["training_counts"] = "tutorial"
    st.session_state[PER_CLICK] = 1
    st.session_state[BATCH] = BATCH_SIZE
    st.session_state["training_augment"] = False
    mine = session()
    if optimizer_of(mine.model) != "rmsprop":
        mine.set_optimizer("rmsprop")
    mine.set_rate(DEFAULT_RATE)


def epoch_panel(running: bool, train_flash: str | None) -> None:
    mine, dataset = session(), current_dataset()
    per_click = epochs_per_click()
    st.button(
        "Train one epoch" if per_click == 1 else f"Train {per_click} epochs",
        key="training_train",
        type="primary",
        icon=":material/play_arrow:",
        on_click=train_more,
        args=(per_click,),
        disabled=running,
        help=f"Epoch {mine.next_epoch()} continues from the current weights.",
    )
    st.button(
        "New random start, then train", key="training_new_run", icon=":material/casino:", on_click=new_run,
        disabled=running, help="The same network from new random weights, with the settings on the left: a new run, "
        "drawn beside the others under Your runs.",
    )
    split, left_out = mine.epoch_split(chosen_split(), dataset.root)
    rate = learning_rate(mine.model)
    st.markdown(
        f"Epoch {mine.next_epoch()} trains on **{len(split.train):,}** photos and validates on "
        f"**{len(split.val):,}**, in batches of {batch_size()}"
        + (f", with {OPTIMIZER_NAMES[optimizer_of(mine.model)]} at learning rate **{format_rate(rate)}**." if rate is not None else ".")
    )
    st.caption(precision_sentence(mine.precision))
    if not mine.own and not mine.rows:
        st.caption(
            "What to expect from one epoch at this rate from random weights: anywhere from chance (50%) to about "
            "the tutorial's 72.8%, depending on the split and the starting weights. Runs on this project's "
            "machines gave 56.8% and 67.4% (README, Results)."
        )
    left_out_caption(left_out)
    counts = dataset.counts()
    st.caption(
        (f"Scaled down: the folder holds {counts['cat']:,} cats and {counts['dog']:,} dogs. " if split.note else "")
        + f"Seed {split.seed}; the folder and the seed are chosen on the Data page."
    )
    if train_flash:
        st.error(train_flash)


def precision_sentence(precision) -> str:
    if precision.bfloat16:
        return (
            f"The training steps multiply in **bfloat16**, 16-bit numbers, because {precision.reason}. "
            "Validation, verdicts and every picture are computed in float32."
        )
    return f"The training steps compute in **float32**, 32-bit numbers, because {precision.reason}."


def left_out_caption(left_out: int | None) -> None:
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


def live_panel() -> None:
    """The running epoch, or the last one's outcome. Polled every second while an epoch runs."""
    mine = session()
    job = mine.job
    if job is None:
        return
    status = job.status()
    if record_epoch():
        st.rerun()  # the whole page: buttons enabled again, the history updated
    if status.state == "running":
        running_epoch(job, status)
    else:
        outcome(job, status)
    if status.progress:
        st.plotly_chart(batch_curves(status.progress, status.batches), key="training_curves")


def running_epoch(job, status) -> None:
    latest = status.latest
    if status.validating:
        text = f"Epoch {status.epoch}: all {status.batches} batches trained; validating on {len(job.split.val):,} photos it never trains on…"
    elif latest is None:
        text = f"Epoch {status.epoch}: reading the first photos and preparing the network…"
    else:
        text = (
            f"Epoch {status.epoch}: batch {latest.batch} of {status.batches} · "
            f"{latest.images_per_second:.1f} images/s · about {duration(latest.seconds_left)} left to train"
        )
    st.progress(status.fraction, text=text)
    cols = st.columns([1, 1, 1, 1, 1.3])
    cols[0].metric("loss (so far)", f"{latest.loss:.4f}" if latest else "–")
    cols[1].metric("accuracy (so far)", f"{latest.accuracy:.1%}" if latest else "–")
    cols[2].metric("images/s", f"{latest.images_per_second:.1f}" if latest else "–")
    cols[3].metric("time left", short_duration(latest.seconds_left) if latest else "–")
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


def outcome(job, status) -> None:
    if status.state == "finished":
        finished_epoch(job, status)
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
        session().roll_back()
        st.rerun()  # the whole page, not only this fragment: the history marks the epoch rolled back


def finished_epoch(job, status) -> None:
    r = status.result
    st.success(
        f"Epoch {status.epoch} finished in {duration(r.seconds)}: **val_accuracy {r.val_accuracy:.4f}** "
        f"on {len(job.split.val):,} validation photos the network never trained on.",
        icon=":material/check_circle:",
    )
    cols = st.columns(5)
    cols[0].metric("val_accuracy", f"{r.val_accuracy:.1%}", help=f"Share of validation photos judged right ({RULE}).")
    cols[1].metric("val_loss", f"{r.val_loss:.4f}", help="Binary cross-entropy on the validation photos.")
    cols[2].metric(
        "accuracy (training)",
        f"{r.accuracy:.1%}",
        help="Running mean over the epoch's batches, while the weights were still changing and with dropout on "
        "(validation uses the final weights with dropout off), so in a first epoch it usually trails val_accuracy.",
    )
    cols[3].metric("loss (training)", f"{r.loss:.4f}")
    cols[4].metric("images/s", f"{r.images_per_second:.1f}", help="Training pass only.")
    for note in epoch_notes(r):
        st.info(note, icon=":material/lightbulb:")
    stall = session().stall()
    if stall is not None and stall.stalled:
        stall_panel(stall)
    reference = shipped_run_summary()
    if reference:
        st.caption(reference)
    if status.warning:
        st.warning(status.warning)


def stall_panel(stall) -> None:
    """The stalled epoch's own numbers, and the remedies as next runs."""
    st.warning("  \n\n".join(stall_sentences(stall)), icon=":material/warning:")
    rate = learning_rate(session().model)
    lower = rate / 10
    cols = st.columns(3)
    cols[0].button(
        f"Start again at learning rate {format_rate(lower)}", key="training_lower_rate", icon=":material/restart_alt:",
        on_click=start_again, args=(lower,), help="New random weights, smaller first steps, and one epoch.",
    )
    cols[1].button(
        f"Train {MORE_EPOCHS} more epochs", key="training_more_epochs", icon=":material/fast_forward:",
        on_click=train_more, args=(MORE_EPOCHS,), help="Go on from these weights, one epoch after another.",
    )
    cols[2].button(
        f"Train the tutorial's {COUNTS['tutorial'][0]:,}-photo epoch", key="training_tutorial_epoch",
        icon=":material/school:", on_click=tutorial_epoch,
        help="Go on from these weights with many more photos in one epoch, as the tutorial trained.",
    )


def shipped_run_summary() -> str | None:
    """How the shipped weights' own training went, read from their card: a yardstick, not a promise."""
    _model, card = shipped_model()
    history = [h for h in card_history(card) if h.get("val_accuracy") is not None]
    if not history:
        return None
    first, last = history[0], history[-1]
    train_size = (card.get("split") or {}).get("train")
    on = f" on {train_size:,} photos" if train_size else ""
    first_rate = first.get("learning_rate")
    at = f" at learning rate {format_rate(first_rate)}" if isinstance(first_rate, (int, float)) else ""
    kept = card_accuracy(card)
    recipe = describe_recipe(card)
    return (
        f"For comparison, the shipped weights' own training{on}, with another recipe: val_accuracy "
        f"{first['val_accuracy']:.1%} after their first epoch{at}, and {kept if kept is not None else last['val_accuracy']:.1%} "
        f"for the file kept, after epoch {last['epoch']}. Their recipe: {recipe}."
    )


def runs_panel() -> None:
    """Every run of this session over each other, and their figures side by side."""
    st.subheader("Your runs, compared")
    runs = session().runs
    table = run_table(runs)
    if table:
        st.plotly_chart(run_overlay(runs), key="training_runs_chart")
        st.dataframe(pd.DataFrame(table), hide_index=True, placeholder="–", column_config=RUN_COLUMNS)
    st.caption(
        "A run is one start (random weights, a loaded file or a transfer start) and the epochs after it. To see "
        f"the learning rate's coin toss: train a run at {format_rate(DEFAULT_RATE)}, slide the learning rate to "
        f"{format_rate(DEFAULT_RATE / 10)} and press New random start: both runs are drawn here. Each new start is "
        "another draw of random weights, so one run against one run shows a tendency, not a law."
    )


def transfer_panel(running: bool) -> None:
    """The tutorial's "further reading: transfer learning", with the shipped weights as the source."""
    shipped, card = shipped_model()
    trained_on = (card or {}).get("trained_on")
    if default_weights_path() is None or not trained_on:
        st.caption("Transfer starts from shipped weights with a card that lists their photos, and none ship here.")
        return
    line = line_of(shipped.layers)
    features, total = feature_parameters(line), parameters(line)
    st.markdown(
        f"The shipped network's convolutions hold {features:,} of its {total:,} parameters, learned from "
        f"{len(trained_on):,} photos. **Transfer learning** keeps them, frozen, and trains only a new head (the "
        f"dense layers, {total - features:,} parameters) on a few photos: here {TRANSFER_SIZES[0]:,}, judged on "
        f"{TRANSFER_SIZES[1]:,} photos the shipped weights never trained on. Beside it, the same head on "
        "convolutions left at their random start, frozen too: the gap between the two runs is what the learned "
        "features are worth. Usually the features come from a network trained on ImageNet; here they are this "
        "project's own, since nothing can be downloaded. Each button trains "
        f"{TRANSFER_EPOCHS} epochs of the tutorial's network, with the optimizer and learning rate set above; both "
        "runs are drawn under Your runs."
    )
    cols = st.columns(2)
    cols[0].button(
        "Train a head on the shipped convolutions", key="training_transfer_learned", icon=":material/move_down:",
        on_click=start_transfer, args=(True,), disabled=running,
    )
    cols[1].button(
        "Train a head on random convolutions", key="training_transfer_random", icon=":material/casino:",
        on_click=start_transfer, args=(False,), disabled=running,
    )


def history_panel() -> None:
    st.subheader("This run's epochs")
    rows = session().rows
    if not rows:
        st.caption("No epoch trained in this session yet. Each epoch continues from the weights the model holds now.")
        return
    st.dataframe(pd.DataFrame([table_row(row) for row in rows]), hide_index=True, placeholder="–", column_config=HISTORY_COLUMNS)
    st.plotly_chart(epoch_history([row for row in rows if row["kept"]]), key="training_history_chart")
    learning_over_time(session())


def table_row(row: dict) -> dict:
    """An epoch row as the History table names its columns."""
    return {
        "epoch": row["epoch"],
        "state": row["state"],
        "batches": f"{row['batches_done']} of {row['batches']}",
        **{name: row[name] for name in ("loss", "accuracy", "val_loss", "val_accuracy")},
        "images/s": row["images_per_second"],
        "seconds": row["seconds"],
        "kept": "kept" if row["kept"] else "rolled back",
    }


def save_panel(running: bool) -> None:
    st.markdown("**Save weights**")
    st.text_input(
        "File name",
        value="my-cnn",
        key="training_save_name",
        persist_state="session",
        help=f"Saved as NAME.weights.h5 with its model card NAME.card.json in {save_dir()}.",
    )
    st.button("Save weights", key="training_save", icon=":material/save:", on_click=save_current, disabled=running)
    last = session().last_saved
    if last is None or not last.is_file():
        return
    downloads = [(last, f"Download {last.name}", "application/octet-stream", "training_download", ":material/download:")]
    card = card_path(last)
    if card.is_file():  # the card says what the weights are: it travels with them
        downloads.append((card, f"Download its card {card.name}", "application/json", "training_download_card", ":material/description:"))
    for path, label, mime, key, icon in downloads:
        st.download_button(label, data=path.read_bytes(), file_name=path.name, mime=mime, key=key, on_click="ignore", icon=icon)


def load_panel(running: bool) -> None:
    st.markdown("**Load weights**")
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
        file_choice(source)
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


def file_choice(source: str) -> None:
    files = list_weight_files(WEIGHTS_DIR if source == "shipped" else save_dir())
    if source == "shipped":  # the sidebar's shipped network first: its file is the one the pages use
        chosen = network_line(shipped_network())
        files.sort(key=lambda p: network_of(p) != chosen)
    if files:
        st.selectbox("File", [str(p) for p in files], format_func=lambda p: Path(p).name, key=f"training_load_{source}")
    elif source == "shipped":
        st.caption("No weight file ships in weights/ yet: the shipped network is untrained.")
    else:
        st.caption(f"Nothing saved yet in {save_dir()}.")


def weights_panel(running: bool, flash: tuple[str, str] | None) -> None:
    st.subheader("Weights")
    if flash is not None:
        getattr(st, flash[0])(flash[1])
    save_col, load_col = st.columns(2, gap="large")
    with save_col:
        save_panel(running)
    with load_col:
        load_panel(running)


# --- the page -------------------------------------------------------------------------------------

introduction()
record_epoch()  # an epoch that ended while the page was away
running = training_in_progress()
model_caption()
flash, train_flash = st.session_state.pop(FLASH, None), st.session_state.pop(TRAIN_FLASH, None)
if current_dataset() is None or current_split() is None:
    no_data_notice()
else:
    settings, action = st.columns([3, 2], gap="large")
    with settings:
        settings_panel(running)
        rate_panel(running)
    with action:
        epoch_panel(running, train_flash)
st.fragment(run_every=POLL_SECONDS if running else None)(live_panel)()
runs_panel()
history_panel()
with st.expander("Transfer: the shipped network's convolutions under a new head", icon=":material/move_down:"):
    transfer_panel(running)
with st.expander("The room: every first epoch trained on this server", icon=":material/groups:"):
    room_panel(key="training_room")
weights_panel(running, flash)
