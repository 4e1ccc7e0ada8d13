"""cnnviz: how a convolutional network tells dogs from cats, computed layer by layer.

The package never imports streamlit; the app's pages and the CLI are two faces on it.
TensorFlow is imported only by the modules that need it (model, training, inspect, and the
input pipeline), so that the CLI and the app start fast.
"""

from cnnviz.errors import CnnvizError

CLASS_NAMES = ("cat", "dog")  # label 0 and 1: the sigmoid's output is P(dog)

__all__ = ["CLASS_NAMES", "CnnvizError"]
