"""Evaluation: how right the current model is on validation photos it never trained on.

The confusion matrix and the accuracy, the photos it was surest of and wrong about (each
opens in the Layer Explorer), and how its P(dog) spreads for cats and for dogs.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnnviz import CLASS_NAMES, RULE, CnnvizError, charts, pictures
from cnnviz.model import weights_fingerprint
from cnnviz_app import common

NO_BAR = {"displayModeBar": False}
DEFAULT_SAMPLE = 200
GALLERY = 8

st.title("Evaluation")
st.markdown(
    "The validation photos were set aside before training: the network has never learned from them, so its "
    f"verdicts on them show how well it does on photos it has not seen. The verdict: {RULE}."
)

split = common.current_split()
if split is None or not split.val:
    st.warning("No validation photos yet: choose a folder of cat and dog photos on the Data page.")
    st.page_link("cnnviz_app/pages/data.py", label="Open the Data page", icon=":material/photo_library:")
    st.stop()

# Judging imports TensorFlow (seconds, on a fresh server): the title and the no-data advice paint first.
from cnnviz.evaluation import confidently_wrong, evaluate_items, sample_items  # noqa: E402
from cnnviz.inspect import verdict  # noqa: E402

choice = common.current_model()
model = choice.model
fingerprint = weights_fingerprint(model)
val, left_out = common.never_trained_on(split.val, common.photos_seen_by(choice))
if not val:
    st.warning(
        f"These weights were trained on all {len(split.val):,} validation photos of this split, so they cannot be "
        "judged on them: choose another seed on the Data page, or reset the model on the Training page."
    )
    st.stop()

if st.session_state.get("eval_n", 0) > len(val):  # fewer photos than last time (other weights, another split)
    st.session_state["eval_n"] = len(val)
c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
n = c1.number_input(
    f"Validation photos to judge (of {len(val):,})",
    min_value=1,
    max_value=len(val),
    value=min(DEFAULT_SAMPLE, len(val)),
    step=50,
    key="eval_n",
    help="A seeded sample, half cats and half dogs. More photos: a surer accuracy, a longer wait.",
)
c2.caption(f"Weights: {choice.description}.")
if left_out:
    st.info(
        f"{left_out:,} of this split's {len(split.val):,} validation photos are left out: "
        + ("these weights' card lists them among the photos they were trained on"
           if choice.source == "shipped" else "this session's model was trained on them (loaded or in its epochs)")
        + ", and they would be judged right too easily.",
        icon=":material/visibility_off:",
    )
elif left_out is None:
    st.warning(
        "These weights came from a file whose card does not list the photos they were trained on. If some of "
        "this split's validation photos were among them, the accuracy below flatters the network."
    )
if choice.source == "untrained":
    st.warning("These weights are untrained: expect about 50%, a coin flip. Train an epoch on the Training page first.")
if choice.source == "session" and common.training_in_progress():
    st.info("An epoch is training this model right now: these numbers are for the weights as they were a moment ago.")


def judge():
    items = sample_items(val, int(n), seed=split.seed)
    bar = st.progress(0.0, text=f"Judging {len(items)} validation photos…")
    done = [0]

    def on_batch(count: int) -> None:
        done[0] += count
        bar.progress(min(1.0, done[0] / len(items)), text=f"Judged {done[0]} of {len(items)} photos…")

    result = evaluate_items(model, items, on_batch=on_batch)
    bar.empty()
    return result


evaluation = common.memo((fingerprint, split.key, len(val), int(n)), judge, slot="_eval_memo", keep=2)
index_in_val = {path: i for i, (path, _) in enumerate(split.val)}
pngs = common.memo(  # drawn once per evaluation, not on every rerun of the page
    (fingerprint, split.key, len(val), int(n), "png"),
    lambda: {
        "confusion": charts.confusion_png(evaluation.confusion),
        "histogram": charts.histogram_png(evaluation.dog_probabilities, evaluation.labels),
    },
    slot="_eval_png_memo",
    keep=1,
)

left, right = st.columns([2, 3], gap="large")
with left:
    cm = evaluation.confusion
    right_count = int(cm[0, 0] + cm[1, 1])
    low, high = evaluation.interval
    st.metric("accuracy", f"{evaluation.accuracy:.1%}", help="Share of the judged photos whose verdict matches the label.")
    st.markdown(
        f"**{right_count:,}** of **{evaluation.n:,}** validation photos judged right. "
        f"95% interval: **{low:.1%} to {high:.1%}**: another sample of {evaluation.n:,} photos could land "
        "anywhere in it (Wilson's interval), so differences smaller than that are noise."
    )
    st.caption(
        "The Training page's val_accuracy scores every validation photo of its epoch, not this sample, "
        "so the two figures differ by about that much."
    )
    st.plotly_chart(charts.confusion_heatmap(cm), width="stretch", config=NO_BAR, key="eval_confusion")
    st.caption("Rows: what the photo is. Columns: what the network said. The diagonal is right.")
    st.download_button(
        "PNG", pngs["confusion"], file_name="confusion-matrix.png", mime="image/png",
        icon=":material/download:", on_click="ignore", key="eval_confusion_png",
    )
with right:
    st.plotly_chart(
        charts.probability_histogram(evaluation.dog_probabilities, evaluation.labels),
        width="stretch",
        config=NO_BAR,
        key="eval_histogram",
    )
    st.caption(
        "A confident, right network piles cats near 0 and dogs near 1. Orange bars right of the line are cats "
        "called dogs; blue bars left of it are dogs called cats."
    )
    st.download_button(
        "PNG", pngs["histogram"], file_name="p-dog-histogram.png",
        mime="image/png", icon=":material/download:", on_click="ignore", key="eval_histogram_png",
    )

st.subheader("Most confidently wrong")


def open_in_explorer(path: str) -> None:
    """The Layer Explorer reads its photo from these two keys: the validation source, and which photo."""
    st.session_state["photo_source"] = "Validation image"
    st.session_state["val_index"] = index_in_val[path]
    st.switch_page("cnnviz_app/pages/layer_explorer.py")


wrong = confidently_wrong(evaluation, GALLERY)
if not wrong:
    st.success("Every judged photo was right: nothing to show here.")
else:
    st.markdown("The photos the network was surest of, and wrong about. Open one to see what each layer made of it.")
    for row_start in range(0, len(wrong), 4):
        for col, i in zip(st.columns(4), wrong[row_start : row_start + 4]):
            path, label = evaluation.items[i]
            v = verdict(float(evaluation.dog_probabilities[i]))
            try:
                col.image(pictures.square_thumbnail(common.photo_from_path(path).original, 240), width="stretch")
            except CnnvizError as exc:  # the file changed since the folder was scanned
                col.caption(str(exc))
            col.markdown(
                f"A **{CLASS_NAMES[label]}**, called **{v.label}**: P(dog) = {v.dog_probability:.3f}  \n{Path(path).name}"
            )
            if col.button("Open in Layer Explorer", key=f"eval_open_{i}", icon=":material/layers:"):
                open_in_explorer(path)
