"""TensorFlow and Keras through cnnviz.backend: imported once, and frozen out of the collector."""

import subprocess
import sys


def test_a_full_collection_after_the_import_walks_none_of_tensorflows_objects():
    """Streamlit collects twice after every script run; each full collection walked TensorFlow's
    import (0.3 s with the GIL held) until it was frozen."""
    code = (
        "import gc, cnnviz.backend\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    frozen, walked = map(int, result.stdout.split())
    assert frozen > 4 * walked  # a full collection walks under a fifth of what the import left
