"""Charts for the app's pages and the workshop pack: plotly figures to hover over and zoom
into, and PNG twins of the evaluation charts drawn with matplotlib.

A chart draws the arrays and tables the rest of cnnviz computes. The only numbers it works
out are the ones it labels (a confusion row's shares, a channel's sum of products, a block's
size), from what it was given, so a test can check a chart against the library's own numbers.
Nothing here imports streamlit.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz import CLASS_NAMES

# One colour per class everywhere in the app, and one per layer kind.
CLASS_COLOURS = {"cat": "#e07b39", "dog": "#3b75af"}
KIND_COLOURS = {
    "input": "#7f7f7f",
    "convolution": "#3b75af",
    "relu": "#8cc084",
    "max pooling": "#e07b39",
    "flatten": "#b07aa1",
    "fully connected": "#c44e52",
    "dropout": "#bcbd22",
    "sigmoid": "#17becf",
}
_FONT = dict(size=14)


def format_shape(shape: Sequence[int]) -> str:
    """(148, 148, 32) -> '148×148×32'; a vector's length with thousands separators: '78,400'."""
    if len(shape) == 1:
        return f"{int(shape[0]):,}"
    return "×".join(str(int(d)) for d in shape)


def format_share(share: float) -> str:
    """A share of the parameters as a percentage: 99.4%, 0.18%, 0.0013% (small ones not shown as 0.0%)."""
    pct = 100 * share
    return f"{pct:.1f}%" if pct >= 1 or pct == 0 else f"{pct:.2g}%"


def _layout(fig: go.Figure, title: str | None = None, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=50 if title else 10, b=10),
        font=_FONT,
        plot_bgcolor="white",
    )
    return fig


# --- data --------------------------------------------------------------------------------


def class_balance(parts: Mapping[str, Mapping[str, int]]) -> go.Figure:
    """Grouped bars: for each part ("whole folder", "train", "validation") its cats and dogs."""
    fig = go.Figure()
    names = list(parts)
    for cls in CLASS_NAMES:
        counts = [int(parts[part].get(cls, 0)) for part in names]
        fig.add_bar(
            name=cls,
            x=names,
            y=counts,
            marker_color=CLASS_COLOURS[cls],
            text=[f"{n:,}" for n in counts],
            textposition="inside",
            insidetextanchor="end",
            textangle=0,
            textfont=dict(color="white"),
        )
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.12, x=0), yaxis_title="photos")
    fig.update_yaxes(gridcolor="#eee")
    return _layout(fig, height=340)


# --- architecture --------------------------------------------------------------------------


def parameter_share(rows: Sequence) -> go.Figure:
    """Horizontal bars of each layer's share of the parameters (layers without any left out).

    `rows` are cnnviz.model.LayerRow: the share and count come from the model itself.
    """
    with_params = [r for r in rows if r.params > 0]
    fig = go.Figure(
        go.Bar(
            x=[100 * r.share for r in with_params],
            y=[r.name for r in with_params],
            orientation="h",
            marker_color=[KIND_COLOURS.get(r.kind, "#999") for r in with_params],
            text=[f"{format_share(r.share)}  ({r.params:,})" for r in with_params],
            textposition=["inside" if r.share > 0.5 else "outside" for r in with_params],
            insidetextanchor="end",
            cliponaxis=False,
            customdata=[[r.formula, r.params] for r in with_params],
            hovertemplate="%{y}: %{x:.3f}% of the parameters<br>%{customdata[0]} = %{customdata[1]:,}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="share of all parameters (%)", range=[0, 100], gridcolor="#eee")
    return _layout(fig, height=80 + 44 * len(with_params))


NAMED_STAGES = 16  # layers in a shape chart whose every block is named below it


def shape_flow(rows: Sequence, input_shape: Sequence[int]) -> go.Figure:
    """The tensor's shape after every layer, as centred blocks: a feature map's block is as tall
    as the map's side and wider for more channels; a vector's (after flatten) is narrow, its
    height on a log scale of its length, scaled so that a vector holding as many values as the
    last feature maps (flatten's output) is exactly as tall as them, and a shorter one shorter.
    So the 64 values of a dense layer are never drawn taller than the maps they came from.

    Hover a block for its layer, kind, shape, number of values and parameters. A network of
    more than NAMED_STAGES layers has only the layers that change the shape named below it:
    the modern line's 32 names overlapped at a page's width.
    """
    stages = [("input", "input", tuple(input_shape), "", 0)] + [
        (r.name, r.kind, tuple(r.output_shape), r.formula, r.params) for r in rows
    ]
    heights, widths, texts, hovers, colours = [], [], [], [], []
    last_side, last_values = 1.0, 1  # of the last feature maps: the yardstick for vectors
    for name, kind, shape, formula, params in stages:
        values = int(np.prod(shape))
        if len(shape) == 3:
            heights.append(float(shape[0]))
            widths.append(0.25 + 0.55 * np.sqrt(shape[2] / 64))
            last_side, last_values = float(shape[0]), values
        else:  # a vector: flatten, dense, ...
            heights.append(max(1.5, last_side * np.log10(1 + values) / np.log10(1 + last_values)))
            widths.append(0.12)
        texts.append(format_shape(shape))
        detail = f"<br>parameters: {formula} = {params:,}" if params else ""
        hovers.append(f"<b>{name}</b> ({kind})<br>output {format_shape(shape)} = {values:,} values{detail}")
        colours.append(KIND_COLOURS.get(kind, "#999"))
    x = list(range(len(stages)))
    heights = np.array(heights)
    fig = go.Figure(
        go.Bar(
            x=x,
            y=heights,
            base=-heights / 2,
            width=widths,
            marker_color=colours,
            marker_line=dict(color="#333", width=0.5),
            hovertext=hovers,
            hoverinfo="text",
        )
    )
    top = float(heights.max()) / 2
    # A shape is written above its block where it changes (a ReLU keeps its input's shape);
    # neighbouring labels alternate between two heights, and so do the names below.
    previous_shape, previous_raised, previous_index = None, True, -9
    named = 0
    for i, (stage, text) in enumerate(zip(stages, texts)):
        if stage[2] != previous_shape:
            raised = not previous_raised if i - previous_index == 1 else False
            fig.add_annotation(
                x=i, y=heights[i] / 2, text=text, showarrow=False, yanchor="bottom",
                yshift=4 + (16 if raised else 0), font=dict(size=12),
            )
            previous_shape, previous_raised, previous_index = stage[2], raised, i
        if len(stages) <= NAMED_STAGES + 1 or i == 0 or stage[2] != stages[i - 1][2]:
            named += 1
            fig.add_annotation(
                x=i, y=-top - 10 - (18 if named % 2 == 0 else 0), text=stage[0], showarrow=False, yanchor="top",
                font=dict(size=11, color="#555"),
            )
    fig.update_xaxes(visible=False, range=[-0.7, len(stages) - 0.3])
    fig.update_yaxes(visible=False, range=[-top - 45, top + 40])
    fig.update_layout(showlegend=False, bargap=0)
    return _layout(fig, height=330)


# --- layer explorer ------------------------------------------------------------------------


def feature_map_heatmap(feature_map: np.ndarray, title: str, height: int = 480) -> go.Figure:
    """One feature map large, with its own value scale (a colour bar), hover for each value."""
    m = np.asarray(feature_map, dtype="float32")
    fig = go.Figure(
        go.Heatmap(
            z=m,
            colorscale="Viridis",
            colorbar=dict(title="value"),
            hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showgrid=False)
    fig.update_xaxes(constrain="domain", showgrid=False)
    # A fixed width just wider than the square map keeps the colour bar beside it.
    fig.update_layout(width=height + 110)
    return _layout(fig, title, height)


def dense_activations(values: np.ndarray, output_weights: np.ndarray | None = None) -> go.Figure:
    """The 64 dense activations as bars; with the output layer's weights, each bar is coloured
    by the class it pushes towards (a positive weight raises P(dog))."""
    v = np.asarray(values, dtype="float32").ravel()
    idx = np.arange(v.size)
    if output_weights is None:
        colours, hover = "#3b75af", ["" for _ in idx]
    else:
        w = np.asarray(output_weights, dtype="float32").ravel()
        colours = [CLASS_COLOURS["dog"] if wi > 0 else CLASS_COLOURS["cat"] for wi in w]
        hover = [f"<br>output weight {wi:+.4f}: contributes {vi * wi:+.4f} to the dog score" for vi, wi in zip(v, w)]
    fig = go.Figure(
        go.Bar(
            x=idx,
            y=v,
            marker_color=colours,
            hovertext=[f"unit {i}: {vi:.4f}{h}" for i, vi, h in zip(idx, v, hover)],
            hoverinfo="text",
        )
    )
    fig.update_xaxes(title=f"unit of the {v.size}-unit dense layer (after ReLU)", dtick=4)
    fig.update_yaxes(title="activation", gridcolor="#eee")
    return _layout(fig, height=320)


def pixel_patch(rgb: np.ndarray, top: int, left: int, size: int, unit_range: bool = False) -> go.Figure:
    """A size x size patch of a photo, enlarged, each pixel labelled with its R, G and B numbers.

    `rgb` is uint8 (numbers 0..255 shown), or with `unit_range` a float network input in
    [0, 1] (numbers shown as the network gets them, two decimals).
    """
    window = np.asarray(rgb)[top : top + size, left : left + size]
    if unit_range:
        patch = np.clip(np.rint(window * 255), 0, 255).astype("uint8")
        numbers = [[f"{v:.2f}" for v in px] for px in window.reshape(-1, 3)]
    else:
        patch = window.astype("uint8")
        numbers = [[str(v) for v in px] for px in window.reshape(-1, 3)]
    numbers = np.array(numbers, dtype=object).reshape(window.shape)
    h, w = patch.shape[:2]
    fig = go.Figure(go.Image(z=patch, hoverinfo="skip"))
    ys, xs = np.mgrid[0:h, 0:w]
    # Dark text on light pixels, light text on dark ones.
    brightness = patch.astype("float32") @ np.array([0.299, 0.587, 0.114], dtype="float32")
    for colour, mask in (("black", brightness >= 128), ("white", brightness < 128)):
        fig.add_scatter(
            x=xs[mask],
            y=ys[mask],
            mode="text",
            text=[f"{r}<br>{g}<br>{b}" for r, g, b in numbers[mask]],
            textfont=dict(color=colour, size=11),
            hovertext=[
                f"row {top + y}, column {left + x}: R {r}, G {g}, B {b}"
                for (r, g, b), y, x in zip(numbers[mask], ys[mask], xs[mask])
            ],
            hoverinfo="text",
            showlegend=False,
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return _layout(fig, height=560)


# --- training figures ---------------------------------------------------------------------
# (owned by the Training page's author; the sections above belong to the other pages)

TRAIN_COLOURS = {"loss": "#c44e52", "accuracy": "#3b75af"}


def batch_curves(progress: Sequence, batches: int, title: str | None = None) -> go.Figure:
    """Live curves of one epoch: running loss and accuracy after each batch (BatchProgress list).

    The x axis spans the whole epoch from the first batch on, so the curves grow across a
    fixed frame instead of the axis rescaling under the presenter's pointer.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("loss (binary cross-entropy)", "accuracy"),
        horizontal_spacing=0.09,
    )
    xs = [int(p.batch) for p in progress]
    for col, key in ((1, "loss"), (2, "accuracy")):
        fig.add_scatter(
            x=xs,
            y=[float(getattr(p, key)) for p in progress],
            mode="lines+markers" if len(xs) < 80 else "lines",
            marker=dict(size=5),
            line=dict(color=TRAIN_COLOURS[key], width=2.5),
            name=key,
            hovertemplate=f"batch %{{x}}<br>{key} %{{y:.4f}}<extra></extra>",
            showlegend=False,
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="batch", range=[0.5, max(int(batches), 1) + 0.5], gridcolor="#eee", row=1, col=col)
    top = max([float(p.loss) for p in progress if np.isfinite(p.loss)] or [0.7])
    fig.update_yaxes(gridcolor="#eee", range=[0, top * 1.15], row=1, col=1)
    fig.update_yaxes(gridcolor="#eee", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.add_annotation(
        text="running mean over this epoch's batches so far, as Keras reports it",
        xref="paper",
        yref="paper",
        x=0,
        y=-0.32,
        showarrow=False,
        font=dict(size=12, color="#666"),
        xanchor="left",
    )
    _layout(fig, title, height=340)
    fig.update_layout(margin=dict(l=10, r=10, t=60 if title else 40, b=70))
    return fig


RUN_COLOURS = ("#3b75af", "#e07b39", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def run_overlay(runs: Sequence) -> go.Figure:
    """A session's runs over each other (cnnviz.compare.RunRecord): training loss batch by batch,
    and val_accuracy after each epoch, on one epoch axis; rolled-back epochs left out.

    Keras's loss is a running mean that starts over each epoch, so each epoch's curve is drawn
    on its own and a run's curve can jump at an epoch's start.
    """
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.09,
        subplot_titles=("training loss, batch by batch", "val_accuracy after each epoch"),
    )
    for i, run in enumerate(runs):
        kept = run.kept()
        if not kept:
            continue
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        xs, ys = [], []
        for _row, curve in kept:
            xs += [x for x, _, _ in curve] + [None]  # None: a gap between epochs
            ys += [loss for _, loss, _ in curve] + [None]
        fig.add_scatter(
            x=xs, y=ys, mode="lines", line=dict(color=colour, width=2), name=run.label, legendgroup=str(run.number),
            hovertemplate=f"run {run.number}<br>epoch %{{x:.2f}}<br>loss %{{y:.4f}}<extra></extra>", row=1, col=1,
        )
        judged = [row for row, _ in kept if row.get("val_accuracy") is not None]
        fig.add_scatter(
            x=[row["epoch"] for row in judged], y=[row["val_accuracy"] for row in judged], mode="lines+markers",
            line=dict(color=colour, width=2.5), marker=dict(size=9), name=run.label, legendgroup=str(run.number),
            showlegend=False, hovertemplate=f"run {run.number}<br>epoch %{{x}}<br>val_accuracy %{{y:.1%}}<extra></extra>",
            row=1, col=2,
        )
    fig.add_hline(y=0.5, line=dict(color="#999", dash="dot"), annotation_text="chance", annotation_position="bottom right", row=1, col=2)
    fig.update_xaxes(title_text="epoch", gridcolor="#eee", rangemode="tozero")
    fig.update_yaxes(gridcolor="#eee", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(gridcolor="#eee", range=[0.4, 1.0], tickformat=".0%", row=1, col=2)
    _layout(fig, height=360)
    fig.update_layout(legend=dict(orientation="h", y=-0.22, x=0), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def epoch_history(rows: Sequence[Mapping]) -> go.Figure:
    """Loss and accuracy per epoch, training (solid) against validation (dashed).

    `rows` are cnnviz.jobs.History rows: epoch, loss, accuracy, val_loss, val_accuracy; a
    stopped epoch has no validation numbers and shows as a gap in the dashed line.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"), horizontal_spacing=0.09)
    epochs = [int(r["epoch"]) for r in rows]
    for col, key in ((1, "loss"), (2, "accuracy")):
        for prefix, dash, label in (("", "solid", "training"), ("val_", "dash", "validation")):
            values = [r.get(prefix + key) for r in rows]
            fig.add_scatter(
                x=epochs,
                y=[float("nan") if v is None else float(v) for v in values],
                mode="lines+markers",
                line=dict(color=TRAIN_COLOURS[key], dash=dash, width=2.5),
                marker=dict(size=9, symbol="circle" if not prefix else "diamond"),
                name=f"{prefix}{key} ({label})",
                hovertemplate=f"epoch %{{x}}<br>{prefix}{key} %{{y:.4f}}<extra></extra>",
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="epoch", tickmode="array", tickvals=sorted(set(epochs)), gridcolor="#eee", row=1, col=col)
    losses = [float(r[k]) for r in rows for k in ("loss", "val_loss") if r.get(k) is not None and np.isfinite(r[k])]
    fig.update_yaxes(gridcolor="#eee", range=[0, max(losses or [0.7]) * 1.15], row=1, col=1)
    fig.update_yaxes(gridcolor="#eee", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    _layout(fig, height=340)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0), margin=dict(l=10, r=10, t=40, b=10))
    return fig


# --- evaluation ------------------------------------------------------------------------------


def confusion_heatmap(matrix: np.ndarray) -> go.Figure:
    """The 2x2 confusion matrix (rows: true class, columns: verdict), each cell's count and row share.

    Each cell is also a point (its second trace) whose customdata is (true class, verdict,
    count), 0 cat and 1 dog: a click anywhere in a cell selects it (hovers reach the nearest
    cell's centre), and a selected cell is outlined, so a page can open the photos in it.
    """
    m = np.asarray(matrix, dtype=int)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    labels = [[f"<b>{m[i, j]:,}</b><br>{share[i, j]:.0%}" for j in range(2)] for i in range(2)]
    x, y = [f"verdict {c}" for c in CLASS_NAMES], [f"true {c}" for c in CLASS_NAMES]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=x,
            y=y,
            text=labels,
            texttemplate="%{text}",
            textfont=dict(size=18),
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            customdata=m,
            hoverinfo="skip",  # the cells' points below answer the hover, with the same numbers
        )
    )
    cells = [(i, j) for i in range(2) for j in range(2)]
    fig.add_scatter(
        x=[x[j] for _, j in cells],
        y=[y[i] for i, _ in cells],
        mode="markers",
        marker=dict(symbol="square-open", size=70, color="#222", line=dict(width=3), opacity=0),
        selected=dict(marker=dict(opacity=1)),
        unselected=dict(marker=dict(opacity=0)),
        customdata=[[i, j, int(m[i, j])] for i, j in cells],
        text=[f"{share[i, j]:.0%}" for i, j in cells],
        hovertemplate="%{y}, %{x}: %{customdata[2]:,} photos (%{text} of the row)<extra></extra>",
        showlegend=False,
    )
    fig.update_yaxes(autorange="reversed", fixedrange=True)
    fig.update_xaxes(fixedrange=True)
    # No text colour is set: plotly writes dark text on light cells and light text on dark ones.
    _layout(fig, height=330)
    fig.update_layout(hoverdistance=-1, clickmode="event+select")
    return fig


SPACE_FOR_LABEL = 36  # px above a plot for one line of annotation text at _FONT's size
LABEL_ROW = 20  # px between two rows of such labels


def probability_histogram(dog_probabilities: np.ndarray, labels: np.ndarray, bins: int = 20) -> go.Figure:
    """Predicted P(dog) per photo, one colour per true class, with the 0.5 threshold drawn."""
    p = np.asarray(dog_probabilities, dtype="float64")
    y = np.asarray(labels)
    fig = go.Figure()
    for label, cls in enumerate(CLASS_NAMES):
        fig.add_histogram(
            x=p[y == label],
            name=f"true {cls}s",
            marker_color=CLASS_COLOURS[cls],
            opacity=0.75,
            xbins=dict(start=0, end=1, size=1 / bins),
            hovertemplate=f"true {cls}s with P(dog) in %{{x}}: %{{y}}<extra></extra>",
        )
    fig.add_vline(x=0.5, line=dict(color="#333", dash="dash", width=2), annotation_text="← cat | dog →", annotation_position="top")
    fig.update_xaxes(title="P(dog) the network gave", range=[0, 1], gridcolor="#eee")
    fig.update_yaxes(title="photos", gridcolor="#eee")
    _layout(fig, height=360)
    # The legend under the axis: above the plot it would collide with the threshold's label,
    # which sits above the plot area and needs a top margin of its own (10 px cut it in half).
    fig.update_layout(barmode="overlay", legend=dict(orientation="h", y=-0.3, x=0), margin=dict(t=SPACE_FOR_LABEL, b=20))
    return fig


# --- step-through convolution ----------------------------------------------------------------


def conv_products(step) -> go.Figure:
    """The 27 products of one convolution step (a cnnviz.stepthrough.ConvStep), as three 3x3
    grids, one per colour channel: each cell says pixel x weight = product, coloured by the
    product (red adds to the sum, blue takes away)."""
    products = np.asarray(step.products)
    top = float(np.abs(products).max()) or 1.0
    channels = ("red", "green", "blue")
    sums = [float(products[:, :, c].sum()) for c in range(3)]
    fig = make_subplots(
        rows=1, cols=3, horizontal_spacing=0.04, subplot_titles=[f"{name}: sum {s:+.4f}" for name, s in zip(channels, sums)]
    )
    for c in range(3):
        text = [
            [f"{step.patch[i, j, c]:.2f} × {step.weights[i, j, c]:+.2f}<br><b>= {products[i, j, c]:+.3f}</b>" for j in range(3)]
            for i in range(3)
        ]
        fig.add_heatmap(
            z=products[:, :, c],
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=13),
            colorscale="RdBu_r",
            zmin=-top,
            zmax=top,
            showscale=False,
            hovertemplate="pixel × weight = %{z:.5f}<extra></extra>",
            row=1,
            col=c + 1,
        )
        fig.update_yaxes(autorange="reversed", visible=False, row=1, col=c + 1)
        fig.update_xaxes(visible=False, row=1, col=c + 1)
    return _layout(fig, height=230).update_layout(margin=dict(l=5, r=5, t=40, b=5))


# --- PNG versions of the evaluation figures (matplotlib: kaleido, plotly's exporter, needs a browser) ---
# matplotlib is imported in these functions, not above: it costs most of a second, which every
# page drawing a chart would pay for PNGs that only the Evaluation page and the pack make.


def _png_of(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def confusion_png(matrix: np.ndarray) -> bytes:
    """The confusion matrix as a PNG, drawn as `confusion_heatmap` draws it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=int)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{m[i, j]:,}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=15,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks([0, 1], [f"verdict {c}" for c in CLASS_NAMES])
    ax.set_yticks([0, 1], [f"true {c}" for c in CLASS_NAMES])
    total = int(m.sum())
    ax.set_title(f"accuracy {np.trace(m) / total:.1%} (n={total:,})" if total else "no photos")
    return _png_of(fig)


def histogram_png(dog_probabilities: np.ndarray, labels: np.ndarray, bins: int = 20) -> bytes:
    """The P(dog) histogram as a PNG, drawn as `probability_histogram` draws it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, y = np.asarray(dog_probabilities, dtype="float64"), np.asarray(labels)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    edges = np.linspace(0, 1, bins + 1)
    for label, cls in enumerate(CLASS_NAMES):
        ax.hist(p[y == label], bins=edges, alpha=0.75, color=CLASS_COLOURS[cls], label=f"true {cls}s")
    ax.axvline(0.5, color="#333", linestyle="--", linewidth=2)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(dog) the network gave")
    ax.set_ylabel("photos")
    ax.legend(frameon=False)
    return _png_of(fig)


# --- learning over time ------------------------------------------------------------------------


def filter_movement(moves: np.ndarray, labels: Sequence[str]) -> go.Figure:
    """How far each first-layer filter moved in each epoch (cnnviz.timeline.movement): one line a filter."""
    m = np.asarray(moves, dtype="float64")
    fig = go.Figure()
    for k in range(m.shape[1]):
        fig.add_scatter(
            x=list(labels),
            y=m[:, k],
            mode="lines+markers",
            name=f"filter {k}",
            line=dict(width=1.5),
            marker=dict(size=6),
            hovertemplate=f"filter {k}, %{{x}}: moved %{{y:.4f}}<extra></extra>",
        )
    fig.update_layout(showlegend=False)
    fig.update_xaxes(title="epoch", gridcolor="#eee")
    fig.update_yaxes(title="distance its 27 weights moved", gridcolor="#eee", rangemode="tozero")
    return _layout(fig, height=320)


# --- the room ------------------------------------------------------------------------------------


def room_histogram(lefts: np.ndarray, counts: np.ndarray, width: float, marks: Sequence[tuple[str, float]] = ()) -> go.Figure:
    """The room's first epochs: a bar of `width` from each left edge, as tall as its count of
    sessions, and a dashed line at each (label, val_accuracy) of `marks` (chance, the tutorial's).

    `lefts` and `counts` come from cnnviz.room.bins. The x axis spans 45% to 90% or more, so
    the frame stays put while the bars grow as the room's epochs end.
    """
    lefts = np.asarray(lefts, dtype="float64")
    counts = np.asarray(counts, dtype=int)
    fig = go.Figure(
        go.Bar(
            x=lefts + width / 2,
            y=counts,
            width=width * 0.95,
            marker_color=TRAIN_COLOURS["accuracy"],
            customdata=np.stack([lefts, lefts + width], axis=-1) if len(lefts) else None,
            hovertemplate="val_accuracy %{customdata[0]:.0%} to %{customdata[1]:.0%}: %{y} first epoch(s)<extra></extra>",
        )
    )
    rightmost = max((v for _, v in marks), default=None)
    for i, (label, value) in enumerate(marks):
        # Labels above the plot, on two rows taken in turn: neighbouring marks' labels would overlap
        # on one. The rightmost ends at its line, or the plot's edge would cut it.
        fig.add_vline(
            x=value, line=dict(color="#333", dash="dash", width=2),
            annotation=dict(text=f"{label} {value:.1%}", yshift=LABEL_ROW * (i % 2), xanchor="right" if value == rightmost else "center"),
            annotation_position="top",
        )
    xs = [*lefts, *(lefts + width), *(v for _, v in marks)]
    fig.update_xaxes(
        title="val_accuracy after epoch 1", tickformat=".0%", gridcolor="#eee",
        range=[min([0.45, *xs]) - 0.01, max([0.9, *xs]) + 0.01],
    )
    fig.update_yaxes(title="first epochs", gridcolor="#eee", rangemode="tozero", dtick=1 if counts.size == 0 or counts.max() <= 10 else None)
    _layout(fig, height=320)
    fig.update_layout(margin=dict(t=SPACE_FOR_LABEL + LABEL_ROW, b=10), bargap=0)
    return fig


# --- the network's map of the photos ---------------------------------------------------------------

MAP_METHODS = {"pca": "PCA", "tsne": "t-SNE"}


def _map_groups(photo_map):
    """(class name, wrong?, indices) for each class, right verdicts then wrong ones: one trace each."""
    for label, cls in enumerate(CLASS_NAMES):
        for wrong in (False, True):
            yield cls, wrong, np.flatnonzero((photo_map.labels == label) & (photo_map.misclassified == wrong))


def photo_map_figure(photo_map, method: str = "pca") -> go.Figure:
    """The photos placed by a cnnviz.photomap.PhotoMap (`method` "pca" or "tsne"): one colour per
    true class, a cross for each photo the verdict got wrong. Each point's customdata is its
    index in the map, for a click to open that photo; the hover names it with its P(dog)."""
    points = getattr(photo_map, method)
    names = np.asarray(photo_map.names)
    fig = go.Figure()
    for cls, wrong, at in _map_groups(photo_map):
        fig.add_scatter(
            x=points[at, 0],
            y=points[at, 1],
            mode="markers",
            name=f"true {cls}s" + (", verdict wrong" if wrong else ""),
            marker=dict(color=CLASS_COLOURS[cls], symbol="x" if wrong else "circle", size=10 if wrong else 7,
                        opacity=1.0 if wrong else 0.7, line=dict(width=0)),
            customdata=np.stack([at, photo_map.dog_probability[at]], axis=-1) if len(at) else None,
            text=names[at],
            hovertemplate=f"%{{text}}, a {cls}<br>P(dog) = %{{customdata[1]:.3f}}<extra></extra>",
        )
    axes = _map_axes(photo_map, method)
    fig.update_xaxes(title=axes[0], zeroline=False, gridcolor="#eee", showticklabels=method == "pca")
    fig.update_yaxes(title=axes[1], zeroline=False, gridcolor="#eee", showticklabels=method == "pca")
    _layout(fig, height=520)
    # No dragmode of its own: Streamlit then pans on a drag and selects a clicked point. With
    # dragmode "select" it sets clickmode to "event", and a click in Chromium selected nothing
    # (the page's "click a dot" did nothing); the box and the lasso are a toolbar click away.
    fig.update_layout(legend=dict(orientation="h", y=-0.12, x=0))
    return fig


def _map_axes(photo_map, method: str) -> tuple[str, str]:
    if method == "pca":
        return tuple(f"PCA {i + 1} ({share:.0%} of the variance)" for i, share in enumerate(photo_map.explained))
    return "t-SNE (the axes mean nothing)", ""


def photo_map_png(photo_map) -> bytes:
    """Both maps side by side as a PNG, drawn as `photo_map_figure` draws each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6))
    for ax, method in zip(axes, MAP_METHODS):
        points = getattr(photo_map, method)
        for cls, wrong, at in _map_groups(photo_map):
            ax.scatter(points[at, 0], points[at, 1], c=CLASS_COLOURS[cls], marker="x" if wrong else "o",
                       s=36 if wrong else 14, alpha=1.0 if wrong else 0.6, linewidths=1.5 if wrong else 0,
                       label=f"true {cls}s" + (", verdict wrong" if wrong else ""))
        x_title, y_title = _map_axes(photo_map, method)
        ax.set_xlabel(x_title)
        ax.set_ylabel(y_title)
        ax.set_title(f"{MAP_METHODS[method]} of {photo_map.layer}'s {photo_map.dimensions} values, {len(photo_map.labels)} photos")
        if method != "pca":
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0].legend(frameon=False, fontsize=9)
    return _png_of(fig)
