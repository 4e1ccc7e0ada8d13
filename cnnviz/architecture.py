"""A network as one line of tokens, the grammar that `--arch`, cards and the Build page share.

    conv32 conv32 pool conv64 pool dense64 dropout0.5        the tutorial's network

- `convN`: a 3x3 convolution with N filters and no padding, then ReLU;
- `pool`: 2x2 max pooling;
- `bn`: batch normalisation;
- `dropoutP`: dropout at rate P;
- `gap`: global average pooling, in place of flatten;
- `denseN`: a fully connected layer of N units, then ReLU.

Every network ends in one unit and a sigmoid, P(dog), which the line leaves out. Where the
line has no `gap`, a flatten comes before the first dense layer (or before the output).

Everything here is arithmetic on the tokens, without Keras: shapes, parameter counts and
multiply-adds, so a page can redraw them as fast as a learner edits the line, and a bad line
is refused with one sentence before anything is built. `cnnviz.model.build_network` turns the
specs into Keras layers; the tests hold the arithmetic to Keras's own `count_params`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnnviz.errors import CnnvizError
from cnnviz.images import IMAGE_SIZE

TUTORIAL = "conv32 conv32 pool conv64 pool dense64 dropout0.5"

# Batch norm, more convolution blocks and global average pooling, within 2 M parameters
# (issue "accuracy"): every block is two convolutions, so each pool sees features built
# from a wider view; gap replaces the tutorial's 4.7 M-weight flatten-to-dense step.
MODERN = (
    "conv32 bn conv32 bn pool conv64 bn conv64 bn pool conv128 bn conv128 bn pool "
    "conv256 bn conv256 bn pool gap dropout0.5"
)

# The Keras blog's version of the tutorial's network: a pooling layer after the first
# convolution too, so dense_1 sees 17x17 maps instead of 35x35 and holds a quarter the weights.
POOLED = "conv32 pool conv32 pool conv64 pool dense64 dropout0.5"

NETWORKS = {"tutorial": TUTORIAL, "pooled": POOLED, "modern": MODERN}

KERNEL, POOL = 3, 2
INPUT = (IMAGE_SIZE, IMAGE_SIZE, 3)
# Keras's default momentum (0.99) averages over ~100 steps; a workshop epoch of 2,000 photos is
# 63 steps, after which inference would still use mostly the initial statistics (measured:
# val_accuracy 0.500 for four epochs). 0.9 averages over ~10 steps.
BN_MOMENTUM = 0.9

# What one attendee's network may hold, so that a server with this project's 23 GB holds about 20
# attendees training at once. benchmarks/model_memory.py measured an epoch's peak at 59 bytes a
# parameter with Adam (47 with RMSprop): the weights, the optimizer's slots, the gradients, the
# bfloat16 twin's copies and the start-of-epoch copy that Roll back restores, plus about 290 MB
# whatever its size (counted for each session, though part is the process's first epoch): 18 GB
# shared by 20 gives 11.3 M each (README, "Build").
MAX_PARAMETERS = 10_000_000

_TOKEN = re.compile(r"^(conv|dense|dropout)(.*)$|^(pool|bn|gap)$")
_WORDS = "conv32, pool, bn, dropout0.5, gap or dense64"


LAYER_KINDS = {  # Keras class -> the plain word the pages use
    "Conv2D": "convolution",
    "Activation": "activation",
    "MaxPooling2D": "max pooling",
    "Flatten": "flatten",
    "Dense": "fully connected",
    "Dropout": "dropout",
    "BatchNormalization": "batch norm",
    "GlobalAveragePooling2D": "global average pooling",
}


@dataclass(frozen=True)
class Spec:
    """One Keras layer to build: its class, its arguments, and the arithmetic of its output."""

    name: str  # as the tutorial's model summary names it: conv2d_1, relu_1, ...
    layer: str  # the Keras class: Conv2D, Activation, ...
    args: dict
    output_shape: tuple[int, ...]  # without the batch axis
    params: int
    macs: int  # multiply-adds for one photo
    formula: str  # how `params` comes about, e.g. "(3x3x3)x32 + 32"; "0" for a layer that learns nothing
    block: str  # the token that made it ("conv32"); "" for the flatten, output unit and sigmoid the line leaves out

    @property
    def kind(self) -> str:
        """A plain word: convolution, max pooling, ...; an activation by its function: relu, sigmoid."""
        return self.args["activation"] if self.layer == "Activation" else LAYER_KINDS[self.layer]


@dataclass(frozen=True)
class LayerRow:
    """A line of the layer table that the Architecture and Build pages and `cnnviz summary` show."""

    name: str
    kind: str  # a plain word: convolution, relu, ...
    output_shape: tuple[int, ...]  # without the batch axis
    formula: str
    params: int
    share: float  # of the network's total parameters, 0..1


def blocks(line: str) -> list[tuple[str, float | int | None]]:
    """The line's tokens as (kind, number), or one CnnvizError naming the first bad token."""
    tokens = line.lower().replace(",", " ").split()
    if not tokens:
        raise CnnvizError(f"The network is empty: write blocks separated by spaces, e.g. {TUTORIAL!r}.")
    out = []
    for token in tokens:
        m = _TOKEN.match(token)
        if not m:
            raise CnnvizError(f"Unknown block {token!r}: use {_WORDS}.")
        kind, number = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), None)
        out.append((kind, _number(token, kind, number)))
    return out


def tokens_of(parsed: list[tuple[str, float | int | None]]) -> list[str]:
    """Blocks as the tokens a line writes them: ("conv", 32) -> "conv32", ("dropout", 0.5) -> "dropout0.5"."""
    return [kind if n is None else f"{kind}{n:g}" for kind, n in parsed]


def _number(token: str, kind: str, text: str | None) -> float | int | None:
    if kind in ("conv", "dense"):
        if not (text or "").isdigit() or not 1 <= int(text) <= 4096:
            what = "filters" if kind == "conv" else "units"
            raise CnnvizError(f"{token!r} needs a whole number of {what} from 1 to 4096, e.g. {kind}64.")
        return int(text)
    if kind == "dropout":
        try:
            rate = float(text)
        except ValueError:
            rate = -1.0
        if not 0 <= rate < 1:
            raise CnnvizError(f"{token!r} needs a rate from 0 to below 1, e.g. dropout0.5.")
        return rate
    return None


def specs(line: str) -> list[Spec]:
    """The Keras layers `line` builds, in order, with shapes, parameters and multiply-adds;
    CnnvizError with one sentence for a line that cannot make a network."""
    parsed = blocks(line)
    if not any(kind == "conv" for kind, _ in parsed):
        raise CnnvizError("The network has no conv: a convolutional network needs at least one, e.g. conv32 pool dense64.")
    counts: dict[str, int] = {}
    out: list[Spec] = []
    shape = INPUT

    block = ""

    def add(key: str, layer: str, args: dict, new_shape: tuple[int, ...], params: int = 0, macs: int = 0, formula: str = "0") -> None:
        counts[key] = counts.get(key, 0) + 1
        name = f"{key}_{counts[key]}" if key != "sigmoid" else key
        out.append(Spec(name, layer, args, new_shape, params, macs, formula, block))

    def dense(units: int) -> None:
        cin = out[-1].output_shape[0]
        add("dense", "Dense", {"units": units}, (units,), (cin + 1) * units, cin * units, f"{cin:,}x{units} + {units}")

    seen = {"pool": 0, "conv": 0}
    flat = any(kind == "gap" for kind, _ in parsed)  # no flatten where the line pools globally
    for (kind, n), block in zip(parsed, tokens_of(parsed)):
        maps = len(shape) == 3
        if kind in ("conv", "pool", "gap") and not maps:
            raise CnnvizError(f"{kind} comes after the maps became a vector: put every conv, pool and gap before the dense layers.")
        if kind == "conv":
            seen["conv"] += 1
            side = shape[0] - KERNEL + 1
            if side < 1:
                raise CnnvizError(f"After conv {seen['conv']} the maps are {max(side, 0)}×{max(side, 0)}: remove a pool or a conv.")
            cin = shape[2]
            new = (side, side, n)
            add("conv2d", "Conv2D", {"filters": n, "kernel_size": (KERNEL, KERNEL)}, new, (KERNEL * KERNEL * cin + 1) * n,
                side * side * KERNEL * KERNEL * cin * n, f"({KERNEL}x{KERNEL}x{cin})x{n} + {n}")
            add("relu", "Activation", {"activation": "relu"}, new)
        elif kind == "pool":
            seen["pool"] += 1
            side = shape[0] // POOL
            if side < 1:
                raise CnnvizError(f"After pool {seen['pool']} the maps are 0×0: remove a pool or a conv.")
            add("max_pooling2d", "MaxPooling2D", {"pool_size": (POOL, POOL)}, (side, side, shape[2]))
        elif kind == "bn":
            channels = shape[-1]
            add("batch_normalization", "BatchNormalization", {"momentum": BN_MOMENTUM}, shape, 4 * channels,
                formula=f"4x{channels} (scale, shift, mean, variance)")
        elif kind == "dropout":
            add("dropout", "Dropout", {"rate": n}, shape)
        elif kind == "gap":
            add("global_average_pooling2d", "GlobalAveragePooling2D", {}, (shape[2],))
        elif kind == "dense":
            if maps and flat:
                raise CnnvizError("dense comes before gap: put gap right after the last conv or pool, then the dense layers.")
            if maps:
                block, held = "", block
                add("flatten", "Flatten", {}, (shape[0] * shape[1] * shape[2],))
                block = held
            dense(n)
            add("relu", "Activation", {"activation": "relu"}, (n,))
        shape = out[-1].output_shape
    block = ""
    if len(shape) == 3:
        add("flatten", "Flatten", {}, (shape[0] * shape[1] * shape[2],))
    dense(1)
    add("sigmoid", "Activation", {"activation": "sigmoid"}, (1,))
    _check_size(out)
    return out


@dataclass(frozen=True)
class ReceptiveField:
    """The square of input pixels that one value of a layer's maps is computed from.

    Value (row, col) of the maps sees input rows row * jump to row * jump + size - 1, and the
    same columns: every convolution here is valid (no padding) and stride 1, every pooling
    window its own stride, so the windows start at multiples of `jump` from the corner.
    """

    size: int  # side of the square, in input pixels
    jump: int  # input pixels between two neighbouring values of the maps

    def window(self, row: int, col: int) -> tuple[int, int]:
        """(top, left) of the input square that value (row, col) sees."""
        return row * self.jump, col * self.jump


def receptive_fields(line: str) -> dict[str, ReceptiveField]:
    """The receptive field of every layer of `line` whose output is a stack of maps.

    A 3x3 convolution widens the field by 2 of its input's steps; a 2x2 pooling by 1 step,
    then doubles the step. Batch norm, ReLU and dropout work value by value and keep it.
    """
    fields, size, jump = {}, 1, 1
    for spec in specs(line):
        if len(spec.output_shape) != 3:
            break
        if spec.layer == "Conv2D":
            size += (KERNEL - 1) * jump
        elif spec.layer == "MaxPooling2D":
            size += (POOL - 1) * jump
            jump *= POOL
        fields[spec.name] = ReceptiveField(size, jump)
    return fields


def pixels_used(line: str) -> int:
    """How many of the input's rows, from the top, and columns, from the left, reach the verdict.

    Everything after the last stack of maps (flatten, gap, dense) reads all of it, so the pixels
    used are what that stack's values see together: its last value's field ends at
    (side - 1) * jump + size. The rest, along the right and bottom edges, is dropped: a 3x3
    convolution without padding narrows its maps by 2, and a 2x2 pooling of an odd side leaves
    its last row and column out. The tutorial's line uses 148 of 150, the modern one 140.
    """
    last = [s for s in specs(line) if len(s.output_shape) == 3][-1]
    field = receptive_fields(line)[last.name]
    return (last.output_shape[0] - 1) * field.jump + field.size


def unread_edge(line: str) -> str | None:
    """The input's rows and columns that never reach the verdict, in words ("the last 10 rows
    and columns of the 150 × 150 input never reach the verdict (why)"); None where every pixel does."""
    used = pixels_used(line)
    if used >= IMAGE_SIZE:
        return None
    return (
        f"the last {IMAGE_SIZE - used} rows and columns of the {IMAGE_SIZE} × {IMAGE_SIZE} input never reach the verdict "
        "(a 3×3 convolution without padding narrows its maps by 2, and a 2×2 pooling of an odd side leaves its last row "
        "and column out)"
    )


def _check_size(out: list[Spec]) -> None:
    """One sentence naming the limit and the layer to shrink, for a network over MAX_PARAMETERS."""
    total = sum(s.params for s in out)
    if total <= MAX_PARAMETERS:
        return
    i, biggest = max(enumerate(out), key=lambda pair: pair[1].params)
    after_flatten = i > 0 and out[i - 1].layer == "Flatten"
    if biggest.layer == "Conv2D":
        advice = f"use fewer filters in {biggest.block} or the conv before it"
    elif after_flatten and biggest.block:
        advice = f"add a pool before the flatten or use fewer units in {biggest.block}"
    elif after_flatten:
        advice = "add a pool or gap before the output"
    else:
        advice = f"use fewer units in {biggest.block} or the dense layer before it"
    raise CnnvizError(
        f"The network has {total:,} parameters; this server holds up to {MAX_PARAMETERS:,} per attendee: "
        f"{advice} ({biggest.name} holds {biggest.params:,})."
    )


def layer_rows(line: str) -> list[LayerRow]:
    """The layer table of `line`'s network, one row per Keras layer, without building it."""
    out = specs(line)
    total = sum(s.params for s in out)
    return [LayerRow(s.name, s.kind, s.output_shape, s.formula, s.params, s.params / total) for s in out]


def with_first_pooling(line: str) -> str:
    """The Keras blog's version of a line: a pool right after its first conv, where the tutorial has none."""
    tokens = network_line(line).split()
    first = next(i for i, token in enumerate(tokens) if token.startswith("conv"))
    return " ".join([*tokens[: first + 1], "pool", *tokens[first + 1 :]])


def parameters(line: str) -> int:
    return sum(s.params for s in specs(line))


# The layers that turn pixels into maps: what a transfer run copies and freezes.
FEATURE_LAYERS = ("Conv2D", "BatchNormalization")


def feature_parameters(line: str) -> int:
    """Parameters of the convolutions and batch norms: the features a transfer run reuses."""
    return sum(s.params for s in specs(line) if s.layer in FEATURE_LAYERS)


def multiply_adds(line: str) -> int:
    """Multiply-adds of one photo's forward pass through the convolutions and dense layers."""
    return sum(s.macs for s in specs(line))


def line_of(layers) -> str:
    """The line that builds these Keras layers (a model built by `build_network`), read off the
    layers themselves: the output unit, its sigmoid and the implicit flatten are left out."""
    tokens = []
    for layer in layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            tokens.append(f"conv{layer.filters}")
        elif kind == "MaxPooling2D":
            tokens.append("pool")
        elif kind == "BatchNormalization":
            tokens.append("bn")
        elif kind == "Dropout":
            tokens.append(f"dropout{layer.rate:g}")
        elif kind == "GlobalAveragePooling2D":
            tokens.append("gap")
        elif kind == "Dense":
            tokens.append(f"dense{layer.units}")
    if tokens and tokens[-1] == "dense1":
        tokens.pop()
    return " ".join(tokens)


def network_line(name_or_line: str) -> str:
    """A name of NETWORKS or a line of tokens, as a checked line."""
    line = NETWORKS.get(name_or_line.strip().lower(), name_or_line)
    specs(line)
    return " ".join(tokens_of(blocks(line)))


def network_name(line: str) -> str | None:
    """`tutorial`, `pooled` or `modern` when the line is one of the named networks."""
    return next((name for name, known in NETWORKS.items() if known == line), None)
