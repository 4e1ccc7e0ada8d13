"""Architecture: the session's network (the tutorial's unless the Training page chose another),
layer by layer, with the arithmetic behind every count."""

import streamlit as st

from cnnviz import RULE, charts
from cnnviz.architecture import TUTORIAL, line_of, unread_edge
from cnnviz.model import INPUT_SHAPE, first_layer, layer_table, side_steps
from cnnviz_app.common import session_if_made, shipped_model, shipped_network
from cnnviz_app.layers_view import BATCH_NORM, GAP, first_pooling_sentences, formulas_table


st.title("Architecture")

mine = session_if_made()
model = mine.model if mine is not None else shipped_model(shipped_network())[0]  # shapes and counts are the same for any weights
line = line_of(model.layers)
tutorial = line == TUTORIAL
rows = layer_table(model)
total = model.count_params()
biggest = max(rows, key=lambda r: r.params)

st.markdown(
    f"The network reads a **{charts.format_shape(INPUT_SHAPE)}** photo (height × width × red, green, blue, "
    f"each scaled to [0, 1]) and ends in **one number**, P(dog). In between are {len(rows)} layers with "
    f"**{total:,}** learned parameters in all, and **{biggest.name}** alone holds "
    f"**{100 * biggest.share:.1f}%** of them."
)
st.caption(
    f"As a line of blocks: `{line}`"
    + ("" if tutorial else ": the network this session trains, chosen on the Training page (the tutorial's is "
       f"`{TUTORIAL}`).")
)

st.subheader("The shape of the data, layer by layer")
flattens = any(r.kind == "flatten" for r in rows)
st.caption(
    "Each block is the tensor a layer hands on. Feature maps: as tall as the map's side, wider for more channels. "
    + ("Vectors (from flatten on): narrow, their height on a log scale of their length, drawn so that flatten's "
       "vector, which holds exactly the last maps' values, is as tall as those maps. " if flattens else
       "Vectors (from global average pooling on): narrow, their height on a log scale of their length, drawn so that a "
       "vector of as many values as the last maps hold would be as tall as them; global average pooling keeps one "
       "value a map, so it is drawn shorter. ")
    + ("Hover a block for its numbers." if len(rows) <= charts.NAMED_STAGES else
       "Below the blocks, the layers that change the shape are named; the ReLU, batch norm and dropout between keep it: "
       "hover a block for its name and numbers.")
)
st.plotly_chart(charts.shape_flow(rows, INPUT_SHAPE), width="stretch", config={"displayModeBar": False})
edge = unread_edge(line)
if edge:
    st.caption(f"{edge[0].upper()}{edge[1:]}: whatever a photo holds there cannot change its verdict.")

st.subheader("The layer table")
formulas_table(rows)
activations = [r.name for r in rows if r.kind in ("relu", "sigmoid")]
if tutorial:
    st.caption(
        f"Names: the tutorial's code looks its activations up as activation_1 … activation_{len(activations)}; here they "
        f"are {', '.join(activations)}, in the same order. Its hand-made parameter table also names the other layers "
        "differently (conv2d_4 …, dense_3, from a re-run notebook) and leaves out both pooling layers."
    )
chart_col, text_col = st.columns([1, 1], gap="large")
with chart_col:
    st.subheader("Who holds the parameters")
    st.plotly_chart(charts.parameter_share(rows), width="stretch", config={"displayModeBar": False})
    for sentence in first_pooling_sentences(line):
        st.caption(sentence)

with text_col:
    st.subheader("What each layer does")
    first = rows[0]
    conv = first_layer(model, "convolution")
    kh, kw = conv.kernel_size
    padding = conv.padding
    conv_steps = [(a, b) for _, a, b in side_steps(rows, first.kind, INPUT_SHAPE[0])]
    side_in, side_out = conv_steps[0]
    parts = [
        f"""**Convolution** (conv2d): a small learned kernel, {kh} × {kw} × C for C input channels, slides over its input; at every
position it takes the dot product of the kernel with the patch under it and adds a bias. Each filter gives one
feature map, so {first.name}'s {first.output_shape[-1]} filters make {charts.format_shape(first.output_shape)}.
Keras's default padding, `padding='{padding}'`, adds {"no border" if padding == "valid" else "a border"}, so a
{kh} × {kw} kernel fits {side_in} − {kh} + 1 = {side_out} times across {side_in} pixels, and every convolution
here loses {kh - 1} rows and {kw - 1} columns: {", ".join(f"{a} → {b}" for a, b in conv_steps)}.
Keras does not flip the kernel, so strictly this is a *cross-correlation*; the Layer Explorer checks it with numbers.""",
        "**ReLU**: max(0, x), value by value. Negative responses become 0, so a map keeps only where its pattern was found.",
    ]
    if first_layer(model, "batch norm") is not None:
        parts.append(BATCH_NORM)
    if (pool := first_layer(model, "max pooling")) is not None:
        pool_steps = [(a, b) for _, a, b in side_steps(rows, "max pooling", INPUT_SHAPE[0])]
        ph, pw = pool.pool_size
        odd = [a for a, _ in pool_steps if a % ph]
        parts.append(
            f"""**Max pooling** ({ph} × {pw}): each {ph} × {pw} block becomes its largest value, keeping *whether* a pattern
occurred nearby rather than exactly where. The blocks do not overlap, so a side of n becomes ⌊n / {ph}⌋:
{", ".join(f"{a} → {b}" for a, b in pool_steps)}"""
            + (f" ({', '.join(map(str, odd))} {'is' if len(odd) == 1 else 'are'} odd: the last row and column are dropped)." if odd else ".")
        )
    if first_layer(model, "flatten") is not None:
        parts.append("**Flatten**: lays the last maps out as one long vector. No arithmetic, no parameters.")
    if first_layer(model, "global average pooling") is not None:
        parts.append(GAP)
    parts.append("**Dense** (fully connected): every input value feeds every unit, each with its own weight, plus a bias per unit.")
    if (dropout := first_layer(model, "dropout")) is not None:
        rate = dropout.rate
        parts.append(
            f"""**Dropout** ({rate:g}): during training only, each value is zeroed with probability {rate:g} and the survivors are
scaled by 1 / (1 − {rate:g}) = {1 / (1 - rate):g}, so the next layer sees the same total on average. When
testing a photo it does nothing."""
        )
    parts.append(f"**Sigmoid**: 1 / (1 + e<sup>−z</sup>) squeezes the last score into (0, 1): P(dog). The verdict: {RULE}.")
    st.markdown("\n\n".join(parts), unsafe_allow_html=True)

st.subheader("The loss: binary cross-entropy")
loss_name = getattr(model, "loss", None)
st.markdown(
    "Training makes the network's P(dog), written *p*, match the label *y* (1 for dog, 0 for cat) "
    "by minimising the binary cross-entropy, averaged over the *N* photos of a batch:"
)
st.latex(r"L = -\frac{1}{N}\sum_{i=1}^{N}\Big[\,y_i \log p_i + (1 - y_i)\log(1 - p_i)\Big]")
st.markdown(
    "A confident wrong answer costs a lot (−log of a small number), a confident right one almost nothing. "
    + (f"The model here is compiled with `{loss_name}`. " if loss_name else "")
    + "The tutorial's text calls its loss *mean squared error*, but its code trains with binary cross-entropy, "
    "as this app does."
)
