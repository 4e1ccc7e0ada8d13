"""cnnviz: how a convolutional network tells dogs from cats, computed layer by layer.

The package never imports streamlit; the app's pages and the CLI are two faces on it.
TensorFlow is imported only by the modules that need it (model, training, inspect, and the
input pipeline), so that the CLI and the app start fast.
"""

from cnnviz.errors import CnnvizError

CLASS_NAMES = ("cat", "dog")  # label 0 and 1: the sigmoid's output is P(dog)

# Keras's binary_accuracy, which gives training's val_accuracy, counts P(dog) > 0.5 as dog; the
# verdict and every other figure follow the same rule, so they agree even at exactly 0.5 (what an
# untrained network whose dense ReLUs are all zero answers for every photo).
THRESHOLD = 0.5
RULE = f"dog when P(dog) > {THRESHOLD}, otherwise cat"

__all__ = ["CLASS_NAMES", "RULE", "THRESHOLD", "CnnvizError"]
