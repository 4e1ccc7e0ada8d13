"""Build: change the network block by block and watch its shapes, parameters, multiply-adds and
epoch time move; then hand it to the Training page as this session's model.

The blocks live in session state as the line's tokens (BLOCKS); every widget is drawn from them
and every callback rewrites them, so the rows, the line as text and the table always agree.
Nothing here builds a Keras network until "Train this network": the table is
`cnnviz.architecture`'s arithmetic on the line.
"""

from __future__ import annotations

import streamlit as st

from cnnviz.architecture import NETWORKS, TUTORIAL, blocks, layer_rows, line_of, multiply_adds, parameters, tokens_of
from cnnviz.durations import duration, short_duration
from cnnviz.errors import CnnvizError
from cnnviz_app.common import DEFAULT_TRAIN, DEFAULT_VAL, WORKSHOP_PHOTOS, machine_speed, session, session_if_made, training_in_progress
from cnnviz_app.layers_view import BATCH_NORM, GAP, first_pooling_sentences, formulas_table

BLOCKS = "build_blocks"  # list[str]: the line's tokens, the truth every widget is drawn from
TEXT = "build_text"  # the line as text, in its widget
TEXT_ERROR = "build_text_error"  # the sentence for a typed line that is not blocks at all; the widgets keep the last one
ADD_KIND, ADD_NUMBER, ADD_WHERE = "build_add_kind", "build_add_number", "build_add_where"
PRESETS = {  # cnnviz.architecture.NETWORKS' names -> their buttons
    "tutorial": "The tutorial's",
    "pooled": "Pooled after the first conv",
    "modern": "Modern: batch norm and gap",
}
KINDS = {  # a block's kind -> what it is
    "conv": "conv: 3×3 convolution, then ReLU",
    "pool": "pool: 2×2 max pooling",
    "bn": "bn: batch norm",
    "dropout": "dropout: zeroes a share of the values while training",
    "gap": "gap: global average pooling",
    "dense": "dense: fully connected, then ReLU",
}
NUMBERS = {  # kinds with a number -> (what it counts, default, the number_input's arguments)
    "conv": ("filters", 32, {"min_value": 1, "max_value": 4096, "step": 8}),
    "dense": ("units", 64, {"min_value": 1, "max_value": 4096, "step": 8}),
    "dropout": ("rate", 0.5, {"min_value": 0.0, "max_value": 0.95, "step": 0.05, "format": "%.2f"}),
}
END = -1  # ADD_WHERE's "at the end"


def kind_key(i: int) -> str:
    return f"build_kind_{i}"


def number_key(i: int, kind: str) -> str:
    """One key per kind: a conv's whole number and a dropout's rate are different widgets."""
    return f"build_number_{i}_{kind}"


def token(kind: str, number) -> str:
    return tokens_of([(kind, number if kind in NUMBERS else None)])[0]


def parse(tok: str) -> tuple[str, float | int | None]:
    return blocks(tok)[0]


def set_blocks(tokens: list[str]) -> None:
    """The new blocks, and every widget's value (and the text) drawn from them."""
    st.session_state[BLOCKS] = tokens
    st.session_state[TEXT] = " ".join(tokens)
    st.session_state.pop(TEXT_ERROR, None)
    if st.session_state.get(ADD_WHERE, END) >= len(tokens):
        st.session_state[ADD_WHERE] = END
    show_blocks()


def show_blocks() -> None:
    """Each row's widgets hold its block (also when Streamlit dropped their state on another page)."""
    for i, tok in enumerate(st.session_state[BLOCKS]):
        kind, number = parse(tok)
        st.session_state[kind_key(i)] = kind
        if kind in NUMBERS:
            st.session_state[number_key(i, kind)] = number


# --- callbacks: they run before the page is drawn ---------------------------------------------


def load(line: str) -> None:
    set_blocks(line.split())


def change(i: int) -> None:
    """Row i's kind or number changed: a new kind keeps the number when it counts the same thing."""
    tokens = list(st.session_state[BLOCKS])
    old_kind, old_number = parse(tokens[i])
    kind = st.session_state[kind_key(i)]
    if kind == old_kind:
        number = st.session_state[number_key(i, kind)]
    elif {kind, old_kind} == {"conv", "dense"}:
        number = old_number
    else:
        number = NUMBERS.get(kind, (None, None))[1]
    tokens[i] = token(kind, number)
    set_blocks(tokens)


def move(i: int, step: int) -> None:
    tokens = list(st.session_state[BLOCKS])
    tokens[i], tokens[i + step] = tokens[i + step], tokens[i]
    set_blocks(tokens)


def remove(i: int) -> None:
    set_blocks(st.session_state[BLOCKS][:i] + st.session_state[BLOCKS][i + 1 :])


def add() -> None:
    kind = st.session_state[ADD_KIND]
    number = st.session_state.get(number_key(END, kind), NUMBERS.get(kind, (None, None))[1])
    tokens = list(st.session_state[BLOCKS])
    where = st.session_state[ADD_WHERE]
    tokens.insert(len(tokens) if where == END else where + 1, token(kind, number))
    set_blocks(tokens)


def from_text() -> None:
    try:
        tokens = tokens_of(blocks(st.session_state[TEXT]))
    except CnnvizError as e:
        st.session_state[TEXT_ERROR] = str(e)
        return
    set_blocks(tokens)


# --- the page ----------------------------------------------------------------------------------


def figures(line: str) -> tuple:
    """Parameters, multiply-adds and "Train this network"; (the epoch metric's slot, its caption's slot)."""
    total, tutorial = parameters(line), parameters(TUTORIAL)
    params_col, macs_col, time_col, train_col = st.columns([1.1, 1, 1, 1], vertical_alignment="center")
    params_col.metric(
        "Parameters", f"{total:,}", delta=f"{total - tutorial:+,}" if total != tutorial else None, delta_color="off",
        delta_arrow="off", delta_description="against the tutorial's" if total != tutorial else None,
    )
    macs_col.metric(
        "Multiply-adds a photo", f"{multiply_adds(line) / 1e6:,.0f} million",
        help="Of one photo's forward pass: convolutions and dense layers.",
    )
    time_slot = time_col.empty()
    trainable = not training_in_progress()
    if train_col.button(
        "Train this network", type="primary", icon=":material/model_training:", disabled=not trainable, width="stretch",
        help="Starts this session's model over as this network, from random weights, keeping its learning rate, and "
        "opens the Training page." if trainable else "An epoch is running on the Training page: stop it or wait for it first.",
    ):
        try:
            session().reset(network=line)
        except CnnvizError as e:
            st.error(str(e))
        else:
            st.switch_page("cnnviz_app/pages/training.py")
    return time_slot, st.empty()


def editor(tokens: list[str]) -> None:
    """A row of widgets per block, and a way to add one anywhere."""
    st.subheader("Blocks")
    st.caption(" · ".join(KINDS.values()))
    for i, tok in enumerate(tokens):
        kind = parse(tok)[0]
        place, what, number, up, down, cross = st.columns([0.35, 1.9, 1.1, 0.45, 0.45, 0.45], vertical_alignment="center", gap="small")
        place.markdown(f"**{i + 1}**")
        what.selectbox(
            f"Block {i + 1}", list(KINDS), key=kind_key(i), on_change=change, args=(i,), label_visibility="collapsed",
        )
        if kind in NUMBERS:
            counts, _, limits = NUMBERS[kind]
            number.number_input(
                f"{counts} of block {i + 1}", key=number_key(i, kind), on_change=change, args=(i,),
                label_visibility="collapsed", help=counts, **limits,
            )
        up.button(":material/arrow_upward:", key=f"build_up_{i}", on_click=move, args=(i, -1), disabled=i == 0, type="tertiary", help="Move up")
        down.button(
            ":material/arrow_downward:", key=f"build_down_{i}", on_click=move, args=(i, 1), disabled=i == len(tokens) - 1,
            type="tertiary", help="Move down",
        )
        cross.button(
            ":material/close:", key=f"build_remove_{i}", on_click=remove, args=(i,), disabled=len(tokens) == 1, type="tertiary",
            help="Remove",
        )

    st.markdown("**Add a block**")
    kind_col, number_col = st.columns(2, gap="small")
    where_col, add_col = st.columns(2, vertical_alignment="bottom", gap="small")
    new_kind = kind_col.selectbox("Kind", list(KINDS), key=ADD_KIND)
    if new_kind in NUMBERS:
        counts, default, limits = NUMBERS[new_kind]
        number_col.number_input(counts.capitalize(), value=default, key=number_key(END, new_kind), **limits)
    where_col.selectbox(
        "Where", [END, *range(len(tokens))], key=ADD_WHERE,
        format_func=lambda w: "at the end" if w == END else f"after {w + 1}: {tokens[w]}",
    )
    add_col.button("Add", key="build_add", on_click=add, width="stretch", icon=":material/add:")


def estimate(line: str, time_slot, caption_slot) -> None:
    """The epoch times, from this server's measured speed (a fresh server's first visit measures it: seconds)."""
    speed = machine_speed()
    train, val = WORKSHOP_PHOTOS
    time_slot.metric(
        "Workshop epoch, about", short_duration(speed.epoch_seconds(line, train, val)),
        help=f"Training {train:,} photos and validating {val:,}. Multiply-adds are most of an epoch's work, not all: "
        "pooling, ReLU, batch norm and reading the photos add some.",
    )
    caption_slot.caption(
        f"Epoch times from this server's speed, measured by timing a few training steps of the tutorial's network: "
        f"{speed.train / 1e9:,.1f} billion multiply-adds a second ({speed.precision}, load average {speed.load:.1f} "
        f"then). The tutorial's epoch ({DEFAULT_TRAIN:,} + {DEFAULT_VAL:,} photos): about "
        f"{duration(speed.epoch_seconds(line, DEFAULT_TRAIN, DEFAULT_VAL))}."
    )


def why(line: str | None) -> None:
    """Where the parameters go, in this network when it shows it, else in the tutorial's; bn and gap."""
    st.subheader("Why the numbers move")
    sentences = first_pooling_sentences(line) if line is not None else []
    if not sentences:
        st.markdown("The tutorial's network shows where the parameters go:")
    for sentence in sentences or first_pooling_sentences(TUTORIAL):
        st.markdown(sentence)
    st.markdown(BATCH_NORM)
    st.markdown(GAP)


@st.fragment
def builder() -> None:
    """Everything an edit changes. A fragment: an edit reruns this, not the navigation and the rest,
    so the browser redraws fewer elements (benchmarks/build_latency.py)."""
    if BLOCKS not in st.session_state:
        mine = session_if_made()
        load(line_of(mine.model.layers) if mine is not None else TUTORIAL)
    else:
        show_blocks()
    tokens = st.session_state[BLOCKS]
    line = " ".join(tokens)

    for column, (name, label) in zip(st.columns(len(PRESETS)), PRESETS.items()):
        preset = NETWORKS[name]
        column.button(
            label, key=f"build_preset_{name}", on_click=load, args=(preset,), width="stretch",
            type="primary" if preset == line else "secondary",
        )
    st.text_input(
        "The network as a line", key=TEXT, on_change=from_text,
        help="convN, pool, bn, dropoutP, gap, denseN, separated by spaces; Enter applies it.",
    )
    if TEXT_ERROR in st.session_state:
        st.error(st.session_state[TEXT_ERROR])
    try:
        rows, problem = layer_rows(line), None
    except CnnvizError as e:
        rows, problem = None, str(e)
    if rows is not None:
        slots = figures(line)

    # The table is sent before the blocks' widgets: the browser draws elements in the order they
    # arrive, and the table is what an edit is watched on.
    edit_col, table_col = st.columns([3.9, 6.1], gap="medium")
    with table_col:
        st.subheader("Layers")
        if rows is None:
            st.error(problem)
        else:
            formulas_table(rows, kinds=False)
    with edit_col:
        editor(tokens)
    if rows is not None:
        estimate(line, *slots)
    why(line if rows is not None else None)


st.title("Build")
st.markdown(
    "Change the network a block at a time, or start from one of three. The output (one unit and a sigmoid, P(dog)) "
    "is always added, and the input is a 150×150 photo."
)
builder()
