"""Training on real photos: an epoch changes the weights, reports every batch, stops when asked,
and never starts on a split with one class."""

import math
import threading

import numpy as np
import pytest

from cnnviz.dataset import find_dataset
from cnnviz.errors import CnnvizError
from cnnviz.split import Split, split_dataset
from cnnviz.model import arithmetic_twin, build_model, compile_model, precision_of
from cnnviz.pipeline import make_pipeline
from cnnviz.training import train


@pytest.fixture(scope="module")
def split(tiny_kaggle, tmp_path_factory):
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path_factory.mktemp("cache"))
    return split_dataset(dataset, train_size=32, val_size=16, seed=13)


@pytest.mark.slow
def test_one_real_epoch_learns_something(split):
    model = compile_model(build_model())
    before = [w.copy() for w in model.get_weights()]
    batches, epochs = [], []
    results = train(model, split, epochs=1, batch_size=8, on_batch=batches.append, on_epoch=epochs.append)
    assert len(results) == 1 and epochs == results
    r = results[0]
    assert not r.stopped and r.batches_done == r.batches == 4
    assert math.isfinite(r.loss) and math.isfinite(r.val_loss) and 0 <= r.val_accuracy <= 1
    assert r.images == 32 and r.images_per_second > 0
    assert [b.batch for b in batches] == [1, 2, 3, 4]
    assert batches[-1].seconds_left == pytest.approx(0, abs=1e-6) and batches[0].seconds_left > 0
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert all(changed), "every weight array should move in an epoch"


@pytest.mark.slow
def test_stop_is_honoured_within_one_batch(split):
    model = compile_model(build_model())
    stop = threading.Event()
    seen = []

    def on_batch(p):
        seen.append(p.batch)
        if p.batch == 2:
            stop.set()

    results = train(model, split, epochs=3, batch_size=8, on_batch=on_batch, stop=stop)
    assert len(results) == 1
    r = results[0]
    assert r.stopped and r.batches_done == 2 and seen == [1, 2]
    assert r.val_accuracy is None


@pytest.mark.slow
def test_next_epoch_continues_from_current_weights(split):
    model = compile_model(build_model())
    first = train(model, split, epochs=1, batch_size=8)
    after_first = [w.copy() for w in model.get_weights()]
    second = train(model, split, epochs=1, batch_size=8, first_epoch=2)
    assert first[0].epoch == 1 and second[0].epoch == 2
    assert any(not np.array_equal(a, b) for a, b in zip(after_first, model.get_weights()))


@pytest.mark.slow
def test_runs_in_a_background_thread(split):
    model = compile_model(build_model())
    out = []
    t = threading.Thread(target=lambda: out.extend(train(model, split, epochs=1, batch_size=16)))
    t.start()
    t.join(timeout=300)
    assert not t.is_alive() and len(out) == 1 and math.isfinite(out[0].loss)


def test_plateau_keeps_best_halves_then_stops():
    from cnnviz.training import Plateau

    p = Plateau(patience=4, halve_after=2)
    assert [p.update(v, e) for e, v in enumerate([0.6, 0.7, 0.65, 0.69, 0.7, 0.68], start=1)] == [
        "best", "best", "wait", "halve", "wait", "stop"
    ]
    assert p.best == 0.7 and p.best_epoch == 2


# --- one class: training never starts ---------------------------------------------------


def one_class_splits(dataset):
    cats = [item for item in dataset.items if item[1] == 0]
    dogs = [item for item in dataset.items if item[1] == 1]
    return {
        "training all cats": Split(train=cats[:4], val=cats[4:5] + dogs[:1], seed=1),
        "training all dogs": Split(train=dogs[:4], val=cats[:1] + dogs[4:5], seed=1),
        "validation all dogs": Split(train=cats[:2] + dogs[:2], val=dogs[4:6], seed=1),
        "no training photos": Split(train=[], val=cats[:1] + dogs[:1], seed=1),
    }


def test_training_never_starts_on_a_split_with_one_class(tiny_kaggle, tmp_path):
    import threading

    from cnnviz.jobs import TrainingJob
    from cnnviz.model import build_model, compile_model
    from cnnviz.training import train

    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path)
    model = compile_model(build_model())
    before = [w.copy() for w in model.get_weights()]
    threads = threading.active_count()
    for what, split in one_class_splits(dataset).items():
        words = "are missing" if what.startswith("no") else f"are all {what.split()[-1]}"
        with pytest.raises(CnnvizError, match=words):
            TrainingJob(model, split).start()
        with pytest.raises(CnnvizError, match=words):
            train(model, split)
    assert threading.active_count() == threads  # no epoch thread was started
    assert int(model.optimizer.iterations.numpy()) == 0
    assert all((a == b).all() for a, b in zip(before, model.get_weights()))


@pytest.mark.slow
def test_bfloat16_steps_leave_a_float32_model_scored_in_float32(split):
    """Training steps in mixed_bfloat16 change the float32 model's weights and optimizer state;
    validation scores the float32 model, so the figure equals a float32 evaluation."""
    model = compile_model(build_model())
    before = [w.copy() for w in model.get_weights()]
    (result,) = train(model, split, epochs=1, batch_size=8, precision="mixed_bfloat16")
    assert precision_of(model) == "float32"
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert int(model.optimizer.iterations.numpy()) == 4, "the twin's four steps are the model's"
    twin = arithmetic_twin(model, "mixed_bfloat16")
    assert twin is not model and precision_of(twin) == "mixed_bfloat16"
    assert all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), model.get_weights()))
    loss, accuracy = model.evaluate(make_pipeline(split.val, 8, training=False), verbose=0)
    assert result.val_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert result.val_loss == pytest.approx(loss, rel=1e-5)
    (again,) = train(model, split, epochs=1, batch_size=8, precision="mixed_bfloat16", first_epoch=2)
    assert arithmetic_twin(model, "mixed_bfloat16") is twin, "one twin per model: its step is traced once"
    assert int(model.optimizer.iterations.numpy()) == 8


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_trained_model_once_dropped_leaves_no_traced_graph_behind(split, precision):
    """TensorFlow's gradient registry kept every train step's graph, and with it the model's
    variables, for the life of the process: a workshop server grew by each trained model."""
    import gc

    from cnnviz.backend import tf

    def graphs() -> int:  # a traced function's graph is a tf.Graph too
        while gc.collect():  # a traced function's finalizers free more on the next pass
            pass
        return sum(isinstance(o, tf.Graph) for o in gc.get_objects())

    def train_and_drop() -> None:
        model = compile_model(build_model())
        train(model, split, epochs=1, batch_size=8, precision=precision)

    train_and_drop()  # TensorFlow's one-time traces (tf.data's, its own) are made here
    before = graphs()
    train_and_drop()
    train_and_drop()
    assert graphs() == before
