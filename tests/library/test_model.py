"""The network, its layer table, and weight files: counts, atomic saves, refusals."""

import json
import os

import numpy as np
import pytest

from cnnviz.cards import card_path, sha256_of, verified_card
from cnnviz.errors import CnnvizError
from cnnviz.model import (
    build_model,
    compile_model,
    copy_model,
    default_weights_path,
    layer_table,
    load_weights,
    predict_dog_probability,
    save_weights,
)


@pytest.fixture(scope="module")
def model():
    return compile_model(build_model())


def test_parameter_counts_match_the_tutorial(model):
    rows = {r.name: r for r in layer_table(model)}
    assert [rows[n].params for n in ("conv2d_1", "conv2d_2", "conv2d_3", "dense_1", "dense_2")] == [
        896,
        9_248,
        18_496,
        5_017_664,
        65,
    ]
    assert model.count_params() == 5_046_369
    assert sum(r.params for r in rows.values()) == 5_046_369


def test_layer_table_formulas_and_shapes(model):
    rows = {r.name: r for r in layer_table(model)}
    assert rows["conv2d_1"].formula == "(3x3x3)x32 + 32"
    assert rows["conv2d_3"].formula == "(3x3x32)x64 + 64"
    assert rows["dense_1"].formula == "78,400x64 + 64"
    shapes = [r.output_shape for r in layer_table(model)]
    assert shapes[0] == (148, 148, 32) and (73, 73, 32) in shapes and (35, 35, 64) in shapes
    assert rows["flatten_1"].output_shape == (78_400,)
    assert round(rows["dense_1"].share * 100, 1) == 99.4
    assert rows["sigmoid"].kind == "sigmoid" and rows["relu_1"].kind == "relu"


def test_save_and_load_round_trip_with_card(model, tmp_path):
    path = tmp_path / "w.weights.h5"
    card = save_weights(model, path, {"epochs": 3})
    assert path.is_file() and card_path(path).is_file()
    on_disk = json.loads(card_path(path).read_text())
    assert on_disk["epochs"] == 3 and on_disk["parameters"] == 5_046_369
    assert on_disk["sha256"] == sha256_of(path) == card["sha256"]
    assert os.stat(path).st_mode & 0o044  # readable by other sessions' processes
    other = build_model()
    assert load_weights(other, path)["epochs"] == 3
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_a_card_from_another_save_does_not_vouch_for_the_weights(model, tmp_path):
    # What a save killed between its two renames leaves: the next save's card, the old weights.
    path, other = tmp_path / "w.weights.h5", tmp_path / "other.weights.h5"
    save_weights(model, path, {"epochs": 3})
    changed = copy_model(model)
    changed.set_weights([w + 1 for w in model.get_weights()])
    save_weights(changed, other, {"epochs": 4})
    assert verified_card(path)["epochs"] == 3 and load_weights(build_model(), path)["epochs"] == 3
    card_path(path).write_bytes(card_path(other).read_bytes())
    assert verified_card(path) == {} and load_weights(build_model(), path) == {}
    card_path(path).unlink()
    assert verified_card(path) == {}  # as for no card at all


def test_weight_file_stays_small_after_training_state(model, tmp_path):
    # The optimizer's slots would double the file; shipped files must stay under 25 MB.
    path = tmp_path / "w.weights.h5"
    save_weights(model, path)
    assert path.stat().st_size < 25 * 1024 * 1024


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "HDF5"),
        (b"this is not a weight file" * 100, "HDF5"),
    ],
)
def test_bad_weight_files_are_refused_and_model_untouched(model, tmp_path, content, words):
    before = [w.copy() for w in model.get_weights()]
    path = tmp_path / "bad.weights.h5"
    path.write_bytes(content)
    with pytest.raises(CnnvizError, match=words):
        load_weights(model, path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_truncated_weight_file_is_refused(model, tmp_path):
    good = tmp_path / "good.weights.h5"
    save_weights(model, good)
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CnnvizError):
        load_weights(build_model(), cut)


def test_other_architecture_is_refused(model, tmp_path):
    import keras

    other = keras.Sequential([keras.Input((150, 150, 3)), keras.layers.Conv2D(8, 3), keras.layers.Flatten(), keras.layers.Dense(1)])
    path = tmp_path / "other.weights.h5"
    other.save_weights(path)
    before = model.get_weights()[0].copy()
    with pytest.raises(CnnvizError, match="different network"):
        load_weights(model, path)
    np.testing.assert_array_equal(before, model.get_weights()[0])


def test_wrong_suffix_and_missing_file(model, tmp_path):
    with pytest.raises(CnnvizError, match=".weights.h5"):
        save_weights(model, tmp_path / "w.h5")
    with pytest.raises(CnnvizError, match="No weight file"):
        load_weights(model, tmp_path / "absent.weights.h5")


def test_copy_is_independent(model):
    twin = copy_model(model)
    twin.layers[0].kernel.assign(np.zeros(twin.layers[0].kernel.shape, "float32"))
    assert np.abs(model.layers[0].kernel.numpy()).sum() > 0
    assert twin.optimizer is not model.optimizer


def test_default_weights_is_newest_by_card(model, tmp_path):
    assert default_weights_path(tmp_path) is None
    save_weights(model, tmp_path / "b.weights.h5", {"created": "2026-01-02T00:00:00+00:00"})
    save_weights(model, tmp_path / "a.weights.h5", {"created": "2026-03-01T00:00:00+00:00"})
    assert default_weights_path(tmp_path).name == "a.weights.h5"


def test_prediction_is_a_probability(model):
    p = predict_dog_probability(model, np.random.default_rng(0).random((2, 150, 150, 3)))
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))


def test_mixed_bfloat16_computes_in_bfloat16_but_keeps_float32_weights_that_load_anywhere(model, tmp_path):
    import keras

    from cnnviz.model import build_model, load_weights, save_weights

    fast = build_model("mixed_bfloat16")
    assert fast.get_layer("conv2d_1").compute_dtype == "bfloat16"
    assert fast.get_layer("sigmoid").compute_dtype == "float32"  # the loss sees float32 probabilities
    assert all(w.dtype == "float32" for w in fast.weights)
    fast.set_weights(model.get_weights())
    save_weights(fast, tmp_path / "fast.weights.h5")
    viewer = build_model()
    load_weights(viewer, tmp_path / "fast.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(viewer.get_weights(), model.get_weights()))

    x = np.random.default_rng(0).random((4, 150, 150, 3), dtype=np.float32)
    exact = keras.ops.convert_to_numpy(viewer(x))
    rounded = keras.ops.convert_to_numpy(fast(x))
    assert rounded.dtype == np.float32
    assert np.allclose(exact, rounded, atol=0.05)  # bfloat16 keeps 8 bits of mantissa


def test_unknown_precision_is_refused():
    from cnnviz.errors import CnnvizError
    from cnnviz.model import build_model

    with pytest.raises(CnnvizError, match="mixed_bfloat16"):
        build_model("float16")


def test_a_cards_accuracy_is_its_float32_recheck_when_it_has_one():
    from cnnviz.cards import card_accuracy

    assert card_accuracy({"val_accuracy": 0.81, "validation": {"accuracy": 0.8, "n": 10}}) == 0.8
    assert card_accuracy({"val_accuracy": 0.81}) == 0.81
    assert card_accuracy({}) is None and card_accuracy(None) is None


def test_a_warm_restarts_epochs_include_its_parents():
    from cnnviz.cards import card_epochs

    grandparent = {"epochs": 39}
    parent = {"epochs": 12, "started_from": grandparent}
    assert card_epochs({"epochs": 5, "started_from": parent}) == 56
    assert card_epochs({"epochs": 5, "started_from": {"epochs": None}}) == 5
    assert card_epochs({"epochs": 5}) == 5 and card_epochs({}) is None and card_epochs(None) is None


def test_a_card_lists_what_its_weights_trained_on_or_says_nothing():
    from cnnviz.cards import card_trained_on

    assert card_trained_on({"trained_on": ["cat.1.jpg", "dog.2.jpg"]}) == {"cat.1.jpg", "dog.2.jpg"}
    assert card_trained_on({"trained_on": []}) == frozenset()
    assert card_trained_on({"epochs": 3}) is None and card_trained_on(None) is None


def test_a_warm_restarts_history_goes_on_from_its_parents():
    from cnnviz.cards import card_history

    parent = {"epochs": 2, "history": [{"epoch": 1, "val_accuracy": 0.6}, {"epoch": 2, "val_accuracy": 0.7}]}
    child = {"epochs": 2, "history": [{"epoch": 1, "val_accuracy": 0.72}, {"epoch": 2, "val_accuracy": 0.75}], "started_from": parent}
    assert [(h["epoch"], h["val_accuracy"]) for h in card_history(child)] == [(1, 0.6), (2, 0.7), (3, 0.72), (4, 0.75)]
    # a parent whose card kept no history still counts its epochs
    assert [h["epoch"] for h in card_history({**child, "started_from": {"epochs": 37}})] == [38, 39]
    assert card_history(None) == [] and card_history(parent) == parent["history"]

