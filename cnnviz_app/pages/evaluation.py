"""Evaluation: how right the current model is on validation photos it never trained on.

The confusion matrix (a click on a cell shows its photos) and the accuracy, how its P(dog)
spreads for cats and for dogs, the photos it was surest of and wrong about, and the network's
map of the photos (its last hidden layer by PCA or t-SNE). Every photo shown opens in the
Layer Explorer with one click.
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
CELL_PAGE = 12  # a confusion cell's photos shown at a time
BOX_SHOWN = 9  # photos of a box drawn on the map shown beside it

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
from cnnviz import photomap  # noqa: E402
from cnnviz.evaluation import cell_photos, confidently_wrong, evaluate_items, sample_items  # noqa: E402
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


items = sample_items(val, int(n), seed=split.seed)


def judge():
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


def open_in_explorer(path: str) -> None:
    """The Layer Explorer reads its photo from these two keys: the validation source, and which photo."""
    st.session_state["photo_source"] = "Validation image"
    st.session_state["val_index"] = index_in_val[path]
    st.switch_page("cnnviz_app/pages/layer_explorer.py")


def gallery(photos: list, key: str, per_row: int = 4, narrow: bool = False) -> None:
    """Each photo's picture, true class, verdict and P(dog), and a button that opens it in the
    Layer Explorer. `photos`: (path, true label, P(dog), picture), the picture None to read it
    from the photo's file. `narrow`: small print and a short button, for narrow columns."""
    for row_start in range(0, len(photos), per_row):
        for col, (path, label, p, picture) in zip(st.columns(per_row), photos[row_start : row_start + per_row]):
            v = verdict(p)
            if picture is None:
                try:
                    picture = pictures.square_thumbnail(common.photo_from_path(path).original, 240)
                except CnnvizError as exc:  # the file changed since the folder was scanned
                    col.caption(str(exc))
            if picture is not None:
                col.image(picture, width="stretch")
            if narrow:
                col.caption(f"{Path(path).name}  \na **{CLASS_NAMES[label]}**, called **{v.label}**  \nP(dog) = {v.dog_probability:.3f}")
            else:
                col.markdown(f"A **{CLASS_NAMES[label]}**, called **{v.label}**: P(dog) = {v.dog_probability:.3f}  \n{Path(path).name}")
            label_words = "Open" if narrow else "Open in Layer Explorer"
            if col.button(label_words, key=f"{key}_{path}", icon=":material/layers:", help=f"Open {Path(path).name} in the Layer Explorer"):
                open_in_explorer(path)


def judged(indices: list[int]) -> list:
    """The gallery's rows for photos of the evaluation, by their index in it."""
    return [(*evaluation.items[i], float(evaluation.dog_probabilities[i]), None) for i in indices]


def selected(event) -> list[list]:
    """The customdata of each point a plotly chart's selection holds, as a list. A figure's numpy
    customdata reaches the browser as a typed array, whose rows come back as {"0": .., "1": ..}."""
    rows = [point["customdata"] for point in event.selection.points]
    return [[row[str(k)] for k in range(len(row))] if isinstance(row, dict) else list(row) for row in rows]


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
    cell_event = st.plotly_chart(
        charts.confusion_heatmap(cm), width="stretch", config=NO_BAR, key="eval_confusion",
        on_select="rerun", selection_mode="points",
    )
    st.caption("Rows: what the photo is. Columns: what the network said. The diagonal is right. "
               "**Click a cell to see its photos**; click it again to close them.")
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


def show_cell(true: int, said: int) -> None:
    """The photos of one cell of the confusion matrix, a page at a time."""
    in_cell = cell_photos(evaluation, true, said)
    shown_key = f"eval_cell_shown_{true}{said}"
    shown = st.session_state.setdefault(shown_key, CELL_PAGE)
    st.subheader(f"{CLASS_NAMES[true].capitalize()}s called {CLASS_NAMES[said]}s: {len(in_cell):,} photo{'' if len(in_cell) == 1 else 's'}")
    if not in_cell:
        st.info("No judged photo landed in this cell.")
        return
    st.markdown(
        ("Right verdicts" if true == said else "Wrong verdicts")
        + ", the ones the network was surest of first. Open one to see what each layer made of it."
    )
    gallery(judged(in_cell[:shown]), key=f"eval_cell_{true}{said}", per_row=6, narrow=True)
    if len(in_cell) > shown:
        st.button(
            f"Show {min(CELL_PAGE, len(in_cell) - shown)} more (of {len(in_cell) - shown:,} not shown)",
            key=f"eval_cell_more_{true}{said}", icon=":material/expand_more:",
            on_click=lambda: st.session_state.update({shown_key: shown + CELL_PAGE}),
        )


if cells := selected(cell_event):
    show_cell(int(cells[0][0]), int(cells[0][1]))

st.subheader("Most confidently wrong")
wrong = confidently_wrong(evaluation, GALLERY)
if not wrong:
    st.success("Every judged photo was right: nothing to show here.")
else:
    st.markdown("The photos the network was surest of, and wrong about. Open one to see what each layer made of it.")
    gallery(judged(wrong), key="eval_open")

# --- the network's map of the photos ---------------------------------------------------------

st.subheader("The network's map of the photos")
# The judged photos, or a seeded share of them: t-SNE's seconds and the map's thumbnails grow with the count.
map_items = items if len(items) <= photomap.SAMPLE else sample_items(items, photomap.SAMPLE, seed=split.seed)


def place():
    bar = st.empty()

    def on_batch(done: int, total: int) -> None:
        words = f"Passing the photos through the network: {done} of {total}…" if done < total else f"Placing {total} photos by PCA and t-SNE…"
        bar.progress(done / total, text=words)

    found = photomap.photo_map(model, map_items, on_batch=on_batch)
    bar.empty()
    return found


# The map itself is shared by every session on these weights (cnnviz.memo); the session keeps its
# own reference too, so other sessions' maps pushing it out of the shared memo cost it no recompute.
with st.spinner(f"Placing {len(map_items):,} photos on the network's map…"):
    found = common.memo((fingerprint, split.key, len(val), int(n)), place, slot="_eval_map_memo", keep=1)

if found.collapsed:
    st.warning(
        f"Every photo gets the same {found.dimensions} values from {found.layer}, the network's last hidden layer "
        "(its units are silent), so the map would be one point. Train another epoch on the Training page."
    )
else:
    method = st.radio("Placed by", list(charts.MAP_METHODS), format_func=charts.MAP_METHODS.get, horizontal=True, key="eval_map_method")
    chart_side, picked_side = st.columns([3, 2], gap="medium")
    with chart_side:
        map_event = st.plotly_chart(
            charts.photo_map_figure(found, method), width="stretch", key="eval_map",
            on_select="rerun", selection_mode=("points", "box", "lasso"),
        )
    picked = [int(data[0]) for data in selected(map_event)]
    # One dot: a click (or a box around a lone dot). The selection cannot tell a click from a box,
    # since a click after a box still reports the old box beside its one point.
    if len(picked) == 1:
        open_in_explorer(found.paths[picked[0]])
    with picked_side:
        if picked:
            st.markdown(f"**{len(picked):,} photo{'' if len(picked) == 1 else 's'} in your selection**"
                        + (f", the first {BOX_SHOWN} shown" if len(picked) > BOX_SHOWN else ""))
            gallery(
                [(found.paths[i], int(found.labels[i]), float(found.dog_probability[i]), found.thumbnails[i]) for i in picked[:BOX_SHOWN]],
                key="eval_map_pick", per_row=3, narrow=True,
            )
        else:
            st.metric(
                "nearest neighbour of the same class",
                f"{photomap.neighbour_accuracy(getattr(found, method), found.labels):.0%}",
                help="How often a photo's nearest other photo on this map has its true class: "
                     "about 50% where the map mixes cats and dogs, 100% where it splits them cleanly.",
            )
            st.markdown(
                "Hover a dot for its photo's name and P(dog). **Click a dot** to open that photo in the Layer "
                "Explorer. To see several photos here, pick the **box** or the **lasso** in the chart's toolbar and "
                "drag it around some dots; double-click the chart to clear it."
            )
    (x_share, y_share) = found.explained
    st.markdown(
        f"Each dot is one of these {len(found.paths):,} validation photos, placed by the {found.dimensions} numbers "
        f"the network's last hidden layer ({found.layer}, the values its output unit weighs) gives it; crosses mark photos the verdict gets wrong. "
        f"PCA is a flat view, so its distances and directions mean something (its two axes hold {x_share:.0%} "
        f"and {y_share:.0%} of how those numbers vary), while t-SNE keeps each photo near its nearest neighbours, "
        "so its gaps, cluster sizes and axes mean nothing and another seed arranges it differently. A clean split "
        "shows that the network separates the photos it was shown, not that it understands cats or dogs, and a "
        "map in two dimensions can hide separations that need more."
    )
    st.caption(
        ("This is this session's model after its latest epoch. " if choice.source == "session" else "")
        + "After each epoch trained on the Training page, this page places the photos again by the new weights "
        "when you open it, so a room can watch the clusters form epoch by epoch."
        + (f" The map places {len(map_items):,} of the {len(items):,} judged photos." if len(map_items) < len(items) else "")
    )
    c1, c2, _ = st.columns([1, 1, 6])
    c1.download_button(
        "PNG", lambda: charts.photo_map_png(found), file_name="photo-map.png", mime="image/png",
        icon=":material/download:", on_click="ignore", key="eval_map_png", help="Both maps, side by side",
    )
    c2.download_button(
        "CSV", found.csv(), file_name="photo-map.csv", mime="text/csv",
        icon=":material/download:", on_click="ignore", key="eval_map_csv",
        help="One row a photo: true class, P(dog), verdict, both maps' coordinates",
    )


def side_by_side_section() -> None:
    """The two shipped networks on the same validation photos and the same photo, on this machine."""
    from cnnviz.cards import card_trained_on
    from cnnviz.side_by_side import side

    st.header("The two shipped networks, side by side")
    shipped = {network: common.shipped_model(network) for network in common.SHIPPED_NETWORKS}
    seen = [card_trained_on(card) for _model, card in shipped.values()]
    both_unseen, _ = common.never_trained_on(split.val, None if None in seen else frozenset().union(*seen))
    photos = sample_items(both_unseen, min(int(n), len(both_unseen)), seed=split.seed)
    photo = common.explored()
    st.markdown(
        f"The tutorial's network and the modern one (batch norm, eight convolutions, global average pooling) judge "
        f"the same {len(photos):,} validation photos, photos neither card lists among those its weights trained on, "
        f"and look at the same photo: {photo.name}, the one the Layer Explorer showed last. "
        "Everything else held still, the difference is what the architecture buys."
    )
    key = (tuple(weights_fingerprint(model) for model, _ in shipped.values()), split.key, len(photos), common.photo_key(photo.photo))
    if st.session_state.get("eval_sides_key") != key:
        if not st.button("Compare them", icon=":material/compare:", key="eval_sides_go",
                         help="Judges the photos with both networks and times each one's forward pass here: seconds."):
            return
        st.session_state["eval_sides_key"] = key
    bar = st.progress(0.0, text="Judging with both networks…")
    done = [0]

    def on_batch(count: int) -> None:
        done[0] += count
        bar.progress(min(1.0, done[0] / (2 * len(photos))), text=f"Judged {done[0]} of {2 * len(photos)}…")

    sides = common.memo(key, lambda: [side(model, photo.photo, photos, on_batch) for model, _ in shipped.values()], slot="_eval_sides_memo", keep=1)
    bar.empty()
    rows = []
    for s, (_model, card) in zip(sides, shipped.values()):
        low, high = s.evaluation.interval
        rows.append({
            "network": s.name + ("" if card else " (untrained)"),
            "parameters": f"{s.parameters:,}",
            "multiply-adds a photo": f"{s.multiply_adds / 1e6:,.0f} million",
            "ms a photo here": f"{s.ms_per_photo:.1f}",
            "accuracy": f"{s.evaluation.accuracy:.1%} ({low:.1%} to {high:.1%})",
            "verdict on the photo": f"{s.verdict.label}, P(dog) = {s.verdict.dog_probability:.3f}",
        })
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(
        f"Accuracy on {len(photos):,} photos, with its 95% interval (Wilson): two networks whose intervals overlap may "
        f"not differ on photos like these. Milliseconds a photo: a forward pass in batches of 32 on this server, the "
        f"fastest of a few, so other sessions' work can slow it."
    )
    for col, s in zip(st.columns(len(sides)), sides):
        col.image(s.looked, width=320, caption=f"{s.name}: where it looked for '{s.verdict.label}' (Grad-CAM on its last convolution)")


side_by_side_section()
