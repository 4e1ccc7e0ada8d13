"""The server process's setup (cnnviz_app/server.py), against Streamlit's own end-of-run clean-up."""

import os
import subprocess
import sys
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


def test_the_server_gives_tensorflow_one_inter_op_thread():
    """In a fresh process set up as `python -m cnnviz_app` does (the variable not set beforehand),
    a compiled function runs on one inter-op thread: TensorFlow's pool, its threads named
    tf_Compute, has one (by default it has one per core, two on this project's machines)."""
    code = """
import os
from cnnviz_app.server import load_tensorflow
load_tensorflow()
import tensorflow as tf
tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))(tf.ones((64, 64)))
print([open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")].count("tf_Compute"))
"""
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTEROP_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "1"
