"""Architecture: the tutorial's network, layer by layer, with the arithmetic behind every count."""

import pandas as pd
import streamlit as st

from cnnviz import charts
from cnnviz.model import INPUT_SHAPE, layer_table
from cnnviz_app.common import shipped_model

st.title("Architecture")

model, _ = shipped_model()  # shapes and counts are the same for any weights
rows = layer_table(model)
total = model.count_params()
by_name = {r.name: r for r in rows}
biggest = max(rows, key=lambda r: r.params)

st.markdown(
    f"The network reads a **{charts.format_shape(INPUT_SHAPE)}** photo (width × height × red, green, blue, "
    f"each scaled to [0, 1]) and ends in **one number**, P(dog). In between are {len(rows)} layers with "
    f"**{total:,}** learned parameters in all, and **{biggest.name}** alone holds "
    f"**{100 * biggest.share:.1f}%** of them."
)

st.subheader("The shape of the data, layer by layer")
st.caption("Each block is the tensor a layer hands on: taller for larger feature maps, wider for more channels. Hover a block for its numbers.")
st.plotly_chart(charts.shape_flow(rows, INPUT_SHAPE), width="stretch", config={"displayModeBar": False})

st.subheader("The layer table")
frame = pd.DataFrame(
    [
        {
            "layer": r.name,
            "kind": r.kind,
            "output shape": charts.format_shape(r.output_shape),
            "formula": r.formula if r.params else "–",
            "parameters": f"{r.params:,}",
            "share": charts.format_share(r.share) if r.params else "",
        }
        for r in rows
    ]
    + [{"layer": "total", "kind": "", "output shape": "", "formula": "", "parameters": f"{total:,}", "share": "100%"}]
)
st.dataframe(frame, hide_index=True, width="stretch", height=36 * (len(frame) + 1) + 4)
st.caption(
    "A convolution's formula is (kernel height × kernel width × input channels) × filters + one bias per filter; "
    "a dense layer's is inputs × units + one bias per unit. Activations, pooling, flatten and dropout learn nothing."
)
chart_col, text_col = st.columns([1, 1], gap="large")
with chart_col:
    st.subheader("Who holds the parameters")
    st.plotly_chart(charts.parameter_share(rows), width="stretch", config={"displayModeBar": False})
    flat = by_name.get("flatten_1")
    if flat is not None and biggest.kind == "fully connected":
        st.caption(
            f"{biggest.name} connects every one of the {flat.output_shape[0]:,} flattened values to each of its "
            f"{biggest.output_shape[0]} units: {biggest.formula} = {biggest.params:,}. The convolutions reuse one small "
            "kernel at every position, so they need few parameters however large the image."
        )

with text_col:
    st.subheader("What each layer does")
    dropout = next((layer for layer in model.layers if layer.__class__.__name__ == "Dropout"), None)
    rate = dropout.rate if dropout is not None else 0.5
    first = rows[0]
    st.markdown(
        f"""
**Convolution** (conv2d): a small learned kernel, 3 × 3 × C for C input channels, slides over its input; at every
position it takes the dot product of the kernel with the patch under it and adds a bias. Each filter gives one
feature map, so {first.name}'s {first.output_shape[-1]} filters make {charts.format_shape(first.output_shape)}
(a 3 × 3 kernel fits 148 times across 150 pixels). Keras does not flip the kernel, so strictly this is a
*cross-correlation*; the Layer Explorer checks it with numbers.

**ReLU**: max(0, x), value by value. Negative responses become 0, so a map keeps only where its pattern was found.

**Max pooling** (2 × 2): each 2 × 2 block becomes its largest value. Maps halve in width and height, keeping
*whether* a pattern occurred nearby rather than exactly where.

**Flatten**: lays the last {charts.format_shape(by_name['max_pooling2d_2'].output_shape) if 'max_pooling2d_2' in by_name else ''}
maps out as one long vector. No arithmetic, no parameters.

**Dense** (fully connected): every input value feeds every unit, each with its own weight, plus a bias per unit.

**Dropout** ({rate:g}): during training only, each value is zeroed with probability {rate:g} and the survivors are
scaled by 1 / (1 − {rate:g}) = {1 / (1 - rate):g}, so the next layer sees the same total on average. When
testing a photo it does nothing.

**Sigmoid**: 1 / (1 + e<sup>−z</sup>) squeezes the last score into (0, 1): P(dog). Above 0.5 the verdict is
dog, otherwise cat.
""",
        unsafe_allow_html=True,
    )

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
