"""The networks, their layer table, and weight files with their cards.

Every Keras object in cnnviz is created here, so that the architecture the app explains,
the one the CLI trains and the one a weight file is checked against are the same object.
A network is built from a line of `cnnviz.architecture`; the default is the tutorial's
(Donovan Lo, "Introduction to Image Classification"), layer for layer. Its ReLUs are
separate `Activation` layers, as in the tutorial's code, so that the explorer can show a
convolution's raw output and what ReLU makes of it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import tempfile
import threading
import weakref
from pathlib import Path

import h5py
import numpy as np

from cnnviz.architecture import FEATURE_LAYERS, LAYER_KINDS, TUTORIAL, LayerRow, layer_rows, line_of, network_line, network_name, specs
from cnnviz.cards import WEIGHTS_SUFFIX, card_path, read_card, sha256_of, verified_card, write_json_atomically
from cnnviz.errors import CnnvizError
from cnnviz.images import IMAGE_SIZE



class _Keras:
    """`keras`, imported on first use: weight files, cards and the file listing need no
    TensorFlow, so the app's Home page answers before TensorFlow's seconds of import."""

    def __getattr__(self, name):
        from cnnviz.backend import keras

        return getattr(keras, name)


keras = _Keras()

ARCHITECTURE = "cnnviz-tutorial-cnn-v1"
NETWORK_FORMAT = "cnnviz-network-line-v1"  # a card's `network` says which
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


PRECISIONS = ("float32", "mixed_bfloat16")


def build_network(line: str = TUTORIAL, precision: str = "float32") -> keras.Model:
    """The network a line of the architecture grammar describes (`cnnviz.architecture`), sigmoid
    output = P(dog); by default the tutorial's CNN, 5,046,369 parameters.

    `precision="mixed_bfloat16"` keeps every weight in float32 but multiplies in bfloat16,
    which CPUs with AMX (and GPUs) do several times faster; the network and its weight
    file are the same. The sigmoid stays float32 so the loss sees exact probabilities.
    """
    if precision not in PRECISIONS:
        raise CnnvizError(f"Unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}.")
    layers = [keras.Input(shape=INPUT_SHAPE, name="input")]
    for spec in specs(line):
        dtype = "float32" if spec.name == "sigmoid" else precision
        layers.append(getattr(keras.layers, spec.layer)(name=spec.name, dtype=dtype, **spec.args))
    name = network_name(network_line(line))
    return keras.Sequential(layers, name=f"{name}_cnn" if name else "custom_cnn")


def build_model(precision: str = "float32") -> keras.Model:
    """The tutorial's network."""
    return build_network(TUTORIAL, precision)


def build_like(model: keras.Model, precision: str = "float32") -> keras.Model:
    """A fresh, untrained network of the same architecture as `model`, with the same layers frozen
    (a bfloat16 twin or a copy of a transfer network must not train what the original keeps)."""
    fresh = build_network(line_of(model.layers), precision)
    for mine, theirs in zip(fresh.layers, model.layers, strict=True):
        mine.trainable = theirs.trainable
    return fresh


def transfer_network(line: str, source: keras.Model | None = None) -> keras.Model:
    """`line`'s network with its convolutions (and batch norms) frozen: copied from `source`, a
    trained network of the same line, or left at their random start when `source` is None.
    Only the head (the dense layers after flatten or gap) learns.

    The pair is the tutorial's "further reading: transfer learning" with weights this project
    owns: the same head on learned features against the same head on random ones.
    """
    fresh = build_network(line)
    if source is not None:
        if line_of(source.layers) != line_of(fresh.layers):
            raise CnnvizError("Transfer copies convolutions from the same network: load or choose that network first.")
        for mine, theirs in zip(fresh.layers, source.layers, strict=True):
            if type(mine).__name__ in FEATURE_LAYERS:
                mine.set_weights(theirs.get_weights())
    for layer in fresh.layers:
        if type(layer).__name__ in FEATURE_LAYERS:
            layer.trainable = False
    return fresh


def frozen_parameters(model: keras.Model) -> int:
    """Parameters that training leaves as they are (0 for a network trained whole)."""
    return sum(int(np.prod(w.shape)) for layer in model.layers if not layer.trainable for w in layer.weights)


DEFAULT_RATE = 1e-3  # Keras's RMSprop default: the tutorial compiles with optimizer='rmsprop'


OPTIMIZERS = {"rmsprop": "RMSprop", "adam": "Adam", "sgd": "SGD"}  # the name cnnviz takes -> Keras's class


def compile_model(model: keras.Model, learning_rate: float = DEFAULT_RATE, optimizer: str = "rmsprop") -> keras.Model:
    """Binary cross-entropy (the tutorial's text says MSE; its code is BCE), with RMSprop as the
    tutorial trains, or Adam, or SGD with momentum 0.9."""
    if optimizer not in OPTIMIZERS:
        raise CnnvizError(f"Unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}.")
    extra = {"momentum": 0.9} if optimizer == "sgd" else {}
    model.compile(
        optimizer=getattr(keras.optimizers, OPTIMIZERS[optimizer])(learning_rate=learning_rate, **extra),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def optimizer_of(model: keras.Model) -> str:
    """The name `compile_model` took for the model's optimizer."""
    kind = type(model.optimizer).__name__
    return next(name for name, cls in OPTIMIZERS.items() if cls == kind)


def copy_model(model: keras.Model) -> keras.Model:
    """A separate, compiled copy with the same weights: one session's training never touches another's."""
    twin = build_like(model)
    twin.set_weights(model.get_weights())
    lr = learning_rate(model)
    return compile_model(twin, lr, optimizer_of(model)) if lr is not None else twin


def precision_of(model: keras.Model) -> str:
    """The precision `model` computes in (`float32` or `mixed_bfloat16`), from its first layer's policy."""
    return model.layers[0].dtype_policy.name


_twins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def arithmetic_twin(model: keras.Model, precision: str) -> keras.Model:
    """`model` itself if it computes in `precision`, else a compiled copy that does.

    The copy is made once per model and lives as long as the model, so its training step is
    traced once and not at every epoch. It holds no state of its own between epochs: training
    copies the weights and the optimizer's state in before an epoch and back after it
    (`copy_training_state`), so `model` stays the one a viewer, a save or a rollback reads.
    """
    if precision_of(model) == precision:
        return model
    twin = _twins.get(model)
    if twin is None or precision_of(twin) != precision:
        twin = build_like(model, precision)
        optimizer = model.optimizer
        twin.compile(optimizer=type(optimizer).from_config(optimizer.get_config()), loss=model.loss, metrics=["accuracy"])
        _twins[model] = twin
    return twin


def copy_training_state(source: keras.Model, target: keras.Model) -> None:
    """Weights, optimizer slots (RMSprop's running averages), step count and learning rate."""
    target.set_weights(source.get_weights())
    for model in (source, target):
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    for mine, theirs in zip(target.optimizer.variables, source.optimizer.variables, strict=True):
        mine.assign(theirs)


def learning_rate(model: keras.Model) -> float | None:
    """The optimizer's current learning rate, or None for an uncompiled model."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


# --- the layer table -------------------------------------------------------------------


def layer_table(model: keras.Model) -> list[LayerRow]:
    """One row per layer, with the arithmetic behind each parameter count: `cnnviz.architecture`'s
    rows of the model's line, which the tests hold to Keras's own counts and shapes."""
    return layer_rows(line_of(model.layers))


def first_layer(model: keras.Model, kind: str):
    """The model's first layer of a kind, as the layer table names kinds ("convolution",
    "max pooling", "relu", "dropout", ...), or None when it has none."""
    return next((layer for layer in model.layers if _kind(layer) == kind), None)


def side_steps(rows: list[LayerRow], kind: str, input_side: int = IMAGE_SIZE) -> list[tuple[str, int, int]]:
    """(layer name, side in, side out) for every layer of `kind` that outputs maps, read off the layer table."""
    steps, side = [], input_side
    for r in rows:
        if len(r.output_shape) == 3:
            if r.kind == kind:
                steps.append((r.name, side, r.output_shape[0]))
            side = r.output_shape[0]
    return steps


def shape_sentences(model: keras.Model) -> list[str]:
    """Why the maps shrink as they do, from the layers themselves: padding, kernel and pool sizes."""
    rows, out = layer_table(model), []
    conv, pool = first_layer(model, "convolution"), first_layer(model, "max pooling")
    if conv is not None:
        (name, side_in, side_out), k = side_steps(rows, "convolution")[0], conv.kernel_size[0]
        border = "adds no border" if conv.padding == "valid" else f"pads the border ({conv.padding})"
        out.append(
            f"The convolutions use `padding='{conv.padding}'`, which {border}: a {k} × {k} kernel fits "
            f"{side_in} − {k} + 1 = {side_out} times across {side_in} pixels, so {name} turns {side_in} into {side_out}."
        )
    for name, side_in, side_out in side_steps(rows, "max pooling") if pool is not None else []:
        p = pool.pool_size[0]
        if side_in % p:
            out.append(f"{name} keeps ⌊{side_in}/{p}⌋ = {side_out}: {side_in} is odd, so its last row and column are dropped.")
        else:
            out.append(f"{name} halves {side_in} to {side_out} exactly.")
    return out


def _kind(layer) -> str:
    kind = LAYER_KINDS.get(type(layer).__name__, type(layer).__name__)
    if kind == "activation":
        return layer.get_config()["activation"]
    return kind


# --- weight files and their cards -----------------------------------------------------


def save_weights(model: keras.Model, path: str | os.PathLike, card: dict | None = None) -> dict:
    """Write weights and card atomically: a reader never sees half a file, a crash keeps the old one.

    Returns the card as written (architecture, parameter count, date and sha256 added).
    """
    path = Path(path)
    if not path.name.endswith(WEIGHTS_SUFFIX):
        raise CnnvizError(f"A weight file's name must end in {WEIGHTS_SUFFIX}: got {path.name!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the .weights.h5 ending, so the temporary name keeps it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=WEIGHTS_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        # An uncompiled copy: the optimizer's state would double the file for no use to a viewer.
        bare = build_like(model)
        bare.set_weights(model.get_weights())
        bare.save_weights(tmp, overwrite=True)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; weight files are for every session to read
        full_card = {
            # The tutorial's files keep their first tag; any other network is described by its line.
            "architecture": ARCHITECTURE if line_of(model.layers) == TUTORIAL else NETWORK_FORMAT,
            "network": line_of(model.layers),
            "parameters": int(model.count_params()),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **(card or {}),
            "sha256": sha256_of(tmp),
        }
        write_json_atomically(card_path(path), full_card)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return full_card


def load_weights(model: keras.Model, path: str | os.PathLike) -> dict:
    """Load a weight file into `model`, or raise CnnvizError leaving `model` exactly as it was.

    The file is read into a fresh network first and checked layer by layer, so a file of
    another architecture, a truncated file or one that is not HDF5 never half-loads. A
    `.weights.h5` file holds arrays only: nothing in it is executed.
    """
    path = Path(path)
    if not path.is_file():
        raise CnnvizError(f"No weight file at {path}: check the path.")
    if not path.name.endswith(WEIGHTS_SUFFIX):
        raise CnnvizError(f"{path.name} is not a Keras weight file: choose a file ending in {WEIGHTS_SUFFIX}.")
    line = line_of(model.layers)
    expected = _expected_weight_shapes(line)
    found = _weight_shapes(path)
    if found != expected:
        raise CnnvizError(
            f"{path.name} holds weights for a different network ({_describe_mismatch(expected, found)}); "
            "choose a file saved by cnnviz for this architecture."
        )
    staging = build_network(line)
    try:
        staging.load_weights(path)
    except Exception as e:  # Keras and h5py raise many types for a damaged file
        raise CnnvizError(f"{path.name} could not be read ({type(e).__name__}); the file is damaged.") from e
    model.set_weights(staging.get_weights())
    return verified_card(path)


@functools.lru_cache(maxsize=8)
def _expected_weight_shapes(line: str) -> dict[str, tuple[int, ...]]:
    """What a file of this architecture holds, read off one that Keras writes itself.

    Keras names the groups in a weight file after layer classes (conv2d, conv2d_1, ...), not
    after our layer names, so the reference is made by Keras rather than rebuilt by hand.
    """
    with tempfile.TemporaryDirectory() as folder:
        reference = Path(folder) / f"reference{WEIGHTS_SUFFIX}"
        build_network(line).save_weights(reference)
        return _weight_shapes(reference)


def _weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The arrays in a Keras 3 `.weights.h5` file, keyed `layer/index`, without loading them."""

    try:
        with h5py.File(path, "r") as f:
            layers = f.get("layers")
            if layers is None:
                return {}
            return {
                f"{name}/{index}": tuple(layers[name]["vars"][index].shape)
                for name in layers
                if "vars" in layers[name]
                for index in layers[name]["vars"]
            }
    except (OSError, KeyError, ValueError) as e:
        raise CnnvizError(f"{path.name} is not a readable HDF5 weight file ({e}); it may be truncated or of another type.") from e


def _describe_mismatch(expected: dict, found: dict) -> str:
    if not found:
        return "no layers found"
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        return f"missing {missing[:3]}, unexpected {extra[:3]}"
    bad = next(k for k in expected if expected[k] != found[k])
    return f"{bad} has shape {found[bad]}, expected {expected[bad]}"


def list_weight_files(weights_dir: str | os.PathLike = WEIGHTS_DIR) -> list[Path]:
    """Weight files in a folder, newest first by their card's date (file times lie after a clone)."""
    folder = Path(weights_dir)
    if not folder.is_dir():
        return []
    files = [p for p in folder.glob(f"*{WEIGHTS_SUFFIX}") if not p.name.startswith(".")]
    return sorted(files, key=lambda p: (read_card(p).get("created", ""), p.stat().st_mtime), reverse=True)


def network_of(path: str | os.PathLike) -> str:
    """The architecture line a weight file's card records; the tutorial's for cards written
    before cards recorded one."""
    return read_card(path).get("network", TUTORIAL)


def default_weights_path(weights_dir: str | os.PathLike = WEIGHTS_DIR, network: str = "tutorial") -> Path | None:
    """The newest weight file of `network` (a name or a line), or None: the network is then untrained."""
    line = network_line(network)
    return next((p for p in list_weight_files(weights_dir) if network_of(p) == line), None)


def network_for(network: str | None, weights: str | os.PathLike | None) -> str:
    """The architecture line to build: `network`'s (a name or a line), else the weight file's,
    else the tutorial's. A file of another network than the one asked for is refused."""
    asked = network_line(network) if network else None
    if weights is None or not Path(weights).is_file():
        return asked or TUTORIAL
    own = network_of(weights)
    if asked and asked != own:
        raise CnnvizError(
            f"{Path(weights).name} holds weights for {network_name(own) or own!r}, not {network_name(asked) or asked!r}: "
            "leave out --network to use that file's network, or choose a file of this one."
        )
    return own


def load_default_model(weights_path: str | os.PathLike | None = None, network: str | None = None) -> tuple[keras.Model, dict | None]:
    """The network with the given weight file (built as its card says) or the newest shipped
    weights of `network` (default: the tutorial's), and the card (None when untrained)."""
    path = Path(weights_path) if weights_path else default_weights_path(network=network or "tutorial")
    model = compile_model(build_network(network_for(network, path)))
    if path is None:
        return model, None
    card = load_weights(model, path)
    return model, {**card, "path": str(path)}


def weights_fingerprint(model: keras.Model) -> str:
    """Changes whenever the weights do (every training step moves the first and last layers'
    weights), so results computed with old weights are never shown as current ones."""
    digest = hashlib.sha1(str(id(model)).encode())
    layers = [layer for layer in model.layers if layer.weights]
    for layer in (layers[0], layers[-1]):
        for w in layer.weights:
            digest.update(keras.ops.convert_to_numpy(w).tobytes())
    return digest.hexdigest()


def predict_dog_probability(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """P(dog) for a batch of network inputs (n, 150, 150, 3) in [0, 1]."""
    x = np.asarray(images, dtype="float32")
    if x.ndim == 3:
        x = x[None]
    return _forward(model)(x).numpy()[:, 0]


_forwards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_compiling = threading.Lock()


def _forward(model: keras.Model):
    """The model's forward pass, compiled once per model as a TensorFlow graph for any batch size.

    Called eagerly, Keras dispatches the layers one by one from Python, which took 2-3 times as
    long for batches of 16-49 photos under load (occlusion's and FGSM's, benchmarks/views.py).
    The graph reads the weights when it runs, so it follows training. It closes over a model
    made of the same layers, not over `model`, so the entry does not keep its own key alive.
    """
    found = _forwards.get(model)
    if found is None:
        with _compiling:
            found = _forwards.get(model)
            if found is None:
                from cnnviz.backend import tf

                same = keras.Model(model.inputs[0], model.outputs[0])
                spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
                found = _forwards[model] = tf.function(lambda x: same(x, training=False), input_signature=[spec])
    return found
