"""TensorFlow and Keras, imported once and quietly.

TensorFlow's C++ side prints start-up lines (oneDNN notices, "could not find cuda drivers")
before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot silence them. A workshop
CLI and app should not open with a wall of warnings, so standard error is pointed at
/dev/null for the import alone; a failed import still raises as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_quietly():
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


tf = _import_quietly()
import keras  # noqa: E402  (after TensorFlow, so Keras finds its backend already loaded)
from tensorflow.python.framework import ops as _ops  # noqa: E402  (TensorFlow's gradient registry, no public API)

__all__ = ["compiled", "forget_graph_custom_gradients", "keras", "tf"]


def compiled(fn, input_signature) -> "tf.types.experimental.PolymorphicFunction":
    """`tf.function(fn)` for one of many functions cnnviz compiles from the same code, each traced once.

    TensorFlow counts the traces of every function made from one piece of code together and,
    after five, warns of "excessive retracing" on standard error: a forward pass compiled once
    per model and layer is exactly that many, each traced once, as intended. The flag that
    silences the warning for one function is private, so it is set only where it exists.
    """
    found = tf.function(fn, input_signature=input_signature)
    if hasattr(found, "_omit_frequent_tracing_warning"):
        found._omit_frequent_tracing_warning = True
    return found

_GRAPH_CUSTOM_GRADIENT = "_graph_mode_decorator.<locals>.internal_grad_fn"


def forget_graph_custom_gradients() -> int:
    """Take the gradient functions that graph-mode custom gradients registered out of
    TensorFlow's gradient registry; how many.

    Every trace of a Keras train step makes one: the optimizer's all-reduce of the gradients
    (even on one device) is a tf.custom_gradient, which in graph mode registers its gradient
    function under a new name in a process-wide registry that nothing ever empties. That
    function holds the traced graph, and the graph holds the model's variables: a trained
    model's weights and optimizer state (about 40 MB here) stayed in memory for the life of
    the server after the model itself was gone. A registered gradient is only looked up while
    a graph that differentiates through its op is being built; Keras takes the gradients
    before the all-reduce, and cnnviz differentiates through no graph-mode custom gradient,
    so once a train step is traced its entry is never needed again.
    """
    registry = getattr(getattr(_ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):  # another TensorFlow's internals: nothing this knows how to free
        return 0
    stale = [
        name for name, entry in list(registry.items())
        if name.startswith("CustomGradient-") and getattr(entry["type"], "__qualname__", "") == _GRAPH_CUSTOM_GRADIENT
    ]
    for name in stale:
        registry.pop(name, None)
    return len(stale)
