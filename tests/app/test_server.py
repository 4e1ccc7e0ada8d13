"""The server process's setup (cnnviz_app/server.py), against Streamlit's own end-of-run clean-up."""

import threading

from streamlit.runtime.scriptrunner import script_runner

from cnnviz.backend import keras
from cnnviz_app.server import keep_keras_state
from keras.src.backend.common import global_state


def test_streamlits_end_of_run_clean_up_leaves_a_training_threads_keras_state_alone():
    """Streamlit calls keras.backend.clear_session() after every script run; unpatched, it
    replaces Keras' thread-local state, so a thread mid-epoch loses what it had set."""
    seen = {}
    ready, cleaned = threading.Event(), threading.Event()

    def training_thread():
        global_state.set_global_attribute("cnnviz_probe", "mid-epoch")
        ready.set()
        cleaned.wait(10)
        seen["after"] = global_state.get_global_attribute("cnnviz_probe")

    keep_keras_state()
    worker = threading.Thread(target=training_thread)
    worker.start()
    ready.wait(10)
    script_runner._clean_problem_modules()  # what Streamlit runs at the end of every script run
    cleaned.set()
    worker.join(10)
    assert seen["after"] == "mid-epoch"
    layer = keras.layers.Dense(1)
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name != layer.name  # Keras' name counter was not reset either
