"""The network, its layer table, and weight files: counts, atomic saves (a save killed at any
moment leaves the previous file whole), refusals, and no code inside a user's file ever runs.

The kill is real: a child process saves in a loop and gets SIGKILL at random moments. The
"code" is real too: a `.keras` model with a Lambda layer whose function writes a marker file
(the booby_trapped fixture), which is shown to run when Keras is told to trust the file, and
never runs in cnnviz.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnviz.backend import keras
from cnnviz.cards import card_path, sha256_of
from cnnviz.errors import CnnvizError
from cnnviz.architecture import MODERN, TUTORIAL, line_of
from cnnviz.model import (
    build_model,
    build_network,
    compile_model,
    copy_model,
    default_weights_path,
    layer_table,
    list_weight_files,
    load_default_model,
    load_weights,
    network_for,
    network_of,
    optimizer_of,
    predict_dog_probability,
    save_weights,
)
from tests.library.helpers import REPO


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


# --- a save killed mid-write ---------------------------------------------------------------


_SAVER = """
import sys, time
import numpy as np
from cnnviz.model import build_model, save_weights
path, version = sys.argv[1], int(sys.argv[2])
model = build_model()
shapes = [w.shape for w in model.get_weights()]
while True:  # until killed; the parent kills within seconds
    model.set_weights([np.full(s, version, dtype="float32") for s in shapes])
    t = time.perf_counter()
    save_weights(model, path, {"version": version})
    print(version, time.perf_counter() - t, flush=True)
    version += 1
"""


def version_of(path: Path) -> tuple[int, dict]:
    """Load the file as the app does; every array must hold the same version number.
    Returns that version and the card that loading vouches for."""
    model = build_model()
    card = load_weights(model, path)
    values = {float(np.unique(w)[0]) for w in model.get_weights() if np.unique(w).size == 1}
    assert len(values) == 1 and all(np.unique(w).size == 1 for w in model.get_weights()), "a mixture of two saves"
    return int(values.pop()), card


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_save_killed_at_random_moments_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "shared.weights.h5"
    model = build_model()
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    save_weights(model, path, {"version": 0})
    rng = random.Random(6)
    version, kills = 0, []
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(path), str(version + 1)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            first = child.stdout.readline().split()  # the child is now saving in a loop
            assert first, "the saving child died before its first save"
            save_seconds = float(first[1])
            time.sleep(rng.uniform(0, 3 * save_seconds))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        printed = [int(line.split()[0]) for line in [" ".join(first)] + child.stdout.read().splitlines() if line.strip()]
        found, vouched = version_of(path)  # loads, whole, every time
        # The file holds the last save reported, or one more (killed between rename and print).
        assert printed[-1] <= found <= printed[-1] + 1, (printed, found)
        card = json.loads(card_path(path).read_text())  # never half a card
        # The card is renamed into place just before the weights: at most one save ahead,
        # and loading never lets a card ahead of its weights vouch for them.
        assert card["version"] in (found, found + 1)
        assert vouched == (card if card["version"] == found else {}), (card["version"], found)
        kills.append((round_, found, sorted(p.name for p in tmp_path.iterdir())))
        version = found
    # Leftover temporary files are hidden and never offered as weights.
    assert list_weight_files(tmp_path) == [path]


# --- no code from user files ----------------------------------------------------------------


def test_the_crafted_file_really_runs_code_when_trusted(booby_trapped):
    """The trap works: only with safe mode off (which cnnviz never does) does the marker appear."""
    path, marker = booby_trapped
    loaded = keras.models.load_model(path, safe_mode=False)
    loaded(np.zeros((1, 150, 150, 3), "float32"))
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("name", ["evil.keras", "evil.weights.h5", "evil.h5"])
def test_load_weights_never_runs_a_keras_file_whatever_its_name(booby_trapped, tmp_path, name):
    path, marker = booby_trapped
    renamed = tmp_path / name
    renamed.write_bytes(path.read_bytes())
    model = build_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(CnnvizError):
        load_weights(model, renamed)
    assert not marker.exists()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_truncated_file_leaves_the_current_model_untouched(tmp_path):
    model = build_model()
    good = tmp_path / "good.weights.h5"
    save_weights(model, good)
    target = build_model()
    before = [w.copy() for w in target.get_weights()]
    for cut in (100, good.stat().st_size // 2, good.stat().st_size - 10):
        truncated = tmp_path / f"cut{cut}.weights.h5"
        truncated.write_bytes(good.read_bytes()[:cut])
        with pytest.raises(CnnvizError):
            load_weights(target, truncated)
        assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights()))


def test_the_shapes_shrink_as_the_layers_say(model):
    from cnnviz.architecture import with_first_pooling
    from cnnviz.model import shape_sentences, side_steps

    rows = layer_table(model)
    assert [(a, b) for _, a, b in side_steps(rows, "convolution")] == [(150, 148), (148, 146), (73, 71)]
    assert [(a, b) for _, a, b in side_steps(rows, "max pooling")] == [(146, 73), (71, 35)]
    said = " ".join(shape_sentences(model))
    assert "150 − 3 + 1 = 148" in said and "keeps ⌊71/2⌋ = 35" in said and "halves 146 to 73 exactly" in said
    blog = " ".join(shape_sentences(build_network(with_first_pooling(TUTORIAL))))  # another network, other sentences
    assert "halves 148 to 74 exactly" in blog and "⌊71/2⌋" not in blog


def test_a_file_of_another_network_is_saved_with_its_line_and_loads_as_that_network(tmp_path):
    """A card records its network's line, and loading a file builds the network its card names;
    the tutorial stays the default wherever no network is asked for."""
    pooled = "conv8 bn pool conv8 gap dropout0.25"
    mine = compile_model(build_network(pooled), optimizer="adam")
    mine.layers[0].kernel.assign(np.full(mine.layers[0].kernel.shape, 0.25, "float32"))
    path = tmp_path / "mine.weights.h5"
    card = save_weights(mine, path)
    assert card["network"] == pooled and network_of(path) == pooled and card["parameters"] == mine.count_params()
    assert card["architecture"] == "cnnviz-network-line-v1", "not the tutorial's tag"
    loaded, loaded_card = load_default_model(path)
    assert line_of(loaded.layers) == pooled and loaded_card["network"] == pooled
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(), mine.layers[0].kernel.numpy())
    twin = copy_model(mine)
    assert line_of(twin.layers) == pooled and optimizer_of(twin) == "adam"
    assert default_weights_path(tmp_path) is None, "the tutorial's default never picks another network's file"
    assert default_weights_path(tmp_path, network=pooled) == path


def test_a_file_is_refused_for_a_network_it_was_not_saved_from(model, tmp_path):
    path = tmp_path / "tutorial.weights.h5"
    save_weights(model, path)
    with pytest.raises(CnnvizError, match="holds weights for 'tutorial', not 'modern'"):
        network_for("modern", path)
    modern = build_network(MODERN)
    before = modern.get_weights()[0].copy()
    with pytest.raises(CnnvizError, match="different network"):
        load_weights(modern, path)
    np.testing.assert_array_equal(before, modern.get_weights()[0])


def test_cards_written_before_networks_had_lines_are_the_tutorials(model, tmp_path):
    path = tmp_path / "old.weights.h5"
    save_weights(model, path)
    card = json.loads(card_path(path).read_text())
    card.pop("network")
    card_path(path).write_text(json.dumps(card))
    assert network_of(path) == TUTORIAL and network_for(None, path) == TUTORIAL


@pytest.mark.parametrize("name, keras_class", [("rmsprop", "RMSprop"), ("adam", "Adam"), ("sgd", "SGD")])
def test_each_optimizer_compiles_at_its_rate(name, keras_class):
    compiled = compile_model(build_network("conv4 gap"), 3e-4, name)
    assert type(compiled.optimizer).__name__ == keras_class and optimizer_of(compiled) == name
    assert float(compiled.optimizer.learning_rate.numpy()) == pytest.approx(3e-4)
    with pytest.raises(CnnvizError, match="Unknown optimizer"):
        compile_model(build_network("conv4 gap"), 3e-4, "adagrad")
