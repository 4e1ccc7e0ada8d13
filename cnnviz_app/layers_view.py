"""What the Architecture and Build pages both show of a network: the layer table with its
formulas, why a pool after the first conv shrinks dense_1, and what batch norm and gap do.

Everything here reads `cnnviz.architecture`'s rows of a line, without Keras, so the Build page
redraws it on every edit without building a network.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnnviz import charts
from cnnviz.architecture import TUTORIAL, LayerRow, layer_rows, network_line, with_first_pooling

BATCH_NORM = """**Batch norm**: each channel is shifted and scaled to mean 0 and variance 1 over the batch, then
by a learned scale and shift (2 parameters a channel, plus the running mean and variance it keeps for testing:
4 in the table). Deeper networks train much faster with it, at larger learning rates.
"""
GAP = """**Global average pooling**: each last map becomes its mean, one number a channel, where flatten would
keep every position: the dense layer after it needs few weights, and where in the photo a pattern was
stops mattering.
"""


COLUMNS = {  # narrow enough for the Build page's side of a 1280-pixel screen; a wider table stretches them
    "layer": st.column_config.TextColumn(width=120),
    "kind": st.column_config.TextColumn(width=105),
    "output shape": st.column_config.TextColumn(width=95),
    "formula": st.column_config.TextColumn(width=125),
    "parameters": st.column_config.TextColumn(width=80),
    "share": st.column_config.TextColumn(width=65),
}


def formulas_table(rows: list[LayerRow], kinds: bool = True) -> None:
    """The table of layers, shapes, formulas and parameters, with its total and how to read a formula;
    without the kind column (`kinds=False`) where the table shares the screen: the names say it too."""
    total = sum(r.params for r in rows)
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
    st.dataframe(
        frame if kinds else frame.drop(columns="kind"), hide_index=True, width="stretch", height=36 * (len(frame) + 1) + 4,
        column_config={name: column for name, column in COLUMNS.items() if kinds or name != "kind"},
    )
    st.caption(
        "A convolution's formula is (kernel height × kernel width × input channels) × filters + one bias per filter; "
        "a dense layer's is inputs × units + one bias per unit. Activations, pooling, flatten and dropout learn nothing."
    )


def first_pooling_sentences(line: str) -> list[str]:
    """Why the first dense layer after flatten holds so many weights, and what it would hold with a
    pool right after the first conv; none when the line has no such layer or pools there already."""
    rows = layer_rows(line)
    by_name = {r.name: r for r in rows}
    flat, biggest = by_name.get("flatten_1"), max(rows, key=lambda r: r.params)
    tokens = network_line(line).split()
    first_conv = next(i for i, token in enumerate(tokens) if token.startswith("conv"))
    pooled_early = tokens[first_conv + 1 : first_conv + 2] == ["pool"]
    if flat is None or biggest.kind != "fully connected" or rows[rows.index(biggest) - 1] is not flat or pooled_early:
        return []
    blog = {r.name: r for r in layer_rows(with_first_pooling(line))}
    blog_flat, blog_dense = blog[flat.name], blog[biggest.name]
    last_maps = rows[rows.index(flat) - 1]
    blog_rows = list(blog.values())
    blog_maps = blog_rows[blog_rows.index(blog_flat) - 1]
    opening = (
        "Why so many: the tutorial adapts the Keras blog's small network but leaves out its first pooling layer. With it"
        if network_line(line) == TUTORIAL
        else "With a pool right after the first conv"
    )
    units = biggest.output_shape[0]
    to_units = "to its one unit" if units == 1 else f"to each of its {units} units"
    return [
        f"{biggest.name} connects every one of the {flat.output_shape[0]:,} flattened values {to_units}: {biggest.formula} = {biggest.params:,}. The convolutions reuse one small "
        "kernel at every position, so they need few parameters however large the image.",
        f"{opening}, the last maps would be {charts.format_shape(blog_maps.output_shape)} instead of "
        f"{charts.format_shape(last_maps.output_shape)}, flatten would hand on {blog_flat.output_shape[0]:,} values, "
        f"and {biggest.name} would hold {blog_dense.params:,} parameters ({sum(r.params for r in blog_rows):,} in the "
        f"whole network) instead of {biggest.params:,} ({sum(r.params for r in rows):,}): a pool halves the maps' "
        f"height and width, so it divides their area, and {biggest.name}'s weights with it, by about four "
        f"({biggest.params / blog_dense.params:.1f} here). Computed from that network's line.",
    ]
