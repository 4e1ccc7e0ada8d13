"""Inspection: every layer's output in one pass, filters, and the manual convolution check."""

import numpy as np
import pytest

from cnnviz import RULE, THRESHOLD
from cnnviz.inspect import (
    TUTORIAL_VARIANT,
    activations,
    classify,
    conv_filters,
    convolution_check,
    filter_stats,
    unscaled_pixels,
    unscaled_test,
    verdict,
    verdict_words,
)
from cnnviz.model import build_model, layer_table


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(7)  # fixed weights: a random filter can be dead on a photo
    return build_model()


@pytest.fixture(scope="module")
def image(cat_photo):
    from cnnviz.images import load_photo

    return load_photo(cat_photo).network_input


def test_activations_of_every_layer(model, image):
    outputs = activations(model, image)
    rows = layer_table(model)
    assert list(outputs) == [r.name for r in rows]
    for r in rows:
        assert outputs[r.name].shape == r.output_shape
    assert outputs["relu_1"].min() >= 0
    np.testing.assert_allclose(outputs["relu_1"], np.maximum(outputs["conv2d_1"], 0), atol=1e-6)
    assert 0 < outputs["sigmoid"][0] < 1


def test_conv_filters(model):
    filters = conv_filters(model)
    assert [k.shape for k, _ in filters.values()] == [(3, 3, 3, 32), (3, 3, 32, 32), (3, 3, 32, 64)]


@pytest.mark.parametrize("k", [0, 7, 31])
def test_manual_convolution_matches_only_when_done_right(model, image, k):
    check = convolution_check(model, image, k)
    assert check.network.max() > 0, "a dead feature map would make every variant match trivially"
    d = check.max_abs_difference
    assert d["correlate2d"] < 1e-5
    assert d["flipped convolve2d"] < 1e-5
    assert d[TUTORIAL_VARIANT] > 1e-3
    assert check.network.shape == (148, 148)
    assert k in check.firing and not check.dead


def test_the_tutorials_check_is_done_as_the_tutorial_did_it(model, image):
    """rgb2gray of the unscaled photo, the red-input slice, convolve2d (flipping it), no bias, ReLU,
    against the network's own map of the unscaled photo."""
    from scipy import signal
    from skimage.color import rgb2gray

    k = 7
    check = convolution_check(model, image, k)
    kernel = conv_filters(model)["conv2d_1"][0][:, :, 0, k].astype("float64")
    unscaled = unscaled_pixels(image)
    expected = np.maximum(signal.convolve2d(rgb2gray(unscaled.astype("uint8")), kernel, mode="valid"), 0)
    np.testing.assert_allclose(check.tutorial, expected, atol=1e-12)
    reference = np.maximum(activations(model, unscaled)["conv2d_1"][:, :, k], 0)
    np.testing.assert_allclose(check.tutorial_reference, reference, rtol=1e-5, atol=1e-4)
    assert check.max_abs_difference[TUTORIAL_VARIANT] == pytest.approx(float(np.abs(expected - reference).max()), rel=1e-4)
    r = check.tutorial_correlation
    assert r is None or r == pytest.approx(float(np.corrcoef(expected.ravel(), reference.ravel())[0, 1]), abs=1e-6)


def test_a_silent_filter_is_named_and_others_are_offered(model, image):
    import keras

    silent = keras.models.clone_model(model)
    silent.set_weights(model.get_weights())
    kernel, bias = silent.get_layer("conv2d_1").get_weights()
    bias[3] = -1e3  # filter 3 can never fire on a [0, 1] photo now
    silent.get_layer("conv2d_1").set_weights([kernel, bias])
    check = convolution_check(silent, image, 3)
    assert check.dead and check.silent and not check.network.any()
    assert 3 not in check.firing and len(check.firing) > 0
    assert check.max_abs_difference["correlate2d"] == 0.0  # a match, but of zeros: the app says so


def test_convolution_check_rejects_bad_filter(model, image):
    with pytest.raises(ValueError):
        convolution_check(model, image, 32)


def test_verdict_uses_a_threshold_not_equality():
    assert verdict(0.93).label == "dog" and verdict(0.93).probability == pytest.approx(0.93)
    assert verdict(0.2).label == "cat" and verdict(0.2).probability == pytest.approx(0.8)
    assert verdict(0.5).label == "cat"  # Keras's binary_accuracy counts only P(dog) > 0.5 as dog


def test_verdict_words_give_both_scores_not_a_confidence():
    assert verdict_words(verdict(0.25)) == "cat (P(cat) = 0.750, P(dog) = 0.250)"
    assert verdict_words(verdict(0.93)) == "dog (P(cat) = 0.070, P(dog) = 0.930)"


def test_the_tutorials_equals_one_test_on_unscaled_pixels(model, image):
    """The numbers come from the network: times 255 the logit grows, and the sentences follow it."""
    from cnnviz.model import predict_dog_probability

    test = unscaled_test(model, image)
    assert test.scaled.dog_probability == pytest.approx(float(predict_dog_probability(model, image[None])[0]), abs=1e-6)
    assert test.unscaled.dog_probability == pytest.approx(
        float(predict_dog_probability(model, (image * 255)[None])[0]), abs=1e-6
    )
    assert test.unscaled.equals_one == (test.unscaled.dog_probability == 1.0)
    text = " ".join(test.sentences())
    assert f"z = {test.scaled.z:+.3f}" in text and f"z = {test.unscaled.z:+.1f}" in text
    assert f"`== 1` is {test.unscaled.equals_one}" in text


def test_a_saturated_output_is_said_and_changes_with_the_weights(model, image):
    import keras

    pushed = keras.models.clone_model(model)
    pushed.set_weights(model.get_weights())
    for sign, word in ((1.0, "dog"), (-1.0, "cat")):
        kernel, bias = model.get_layer("dense_2").get_weights()
        pushed.get_layer("dense_2").set_weights([kernel, bias + sign * 1e4])  # z far from 0 either way
        test = unscaled_test(pushed, image)
        assert test.unscaled.dog_probability == (1.0 if sign > 0 else 0.0)
        assert test.unscaled.tutorial_label == word
        assert f"rounds it to exactly {test.unscaled.dog_probability:g}" in " ".join(test.sentences())


def test_filter_stats_compare_with_keras_glorot_start(model):
    kernel = conv_filters(model)["conv2d_1"][0]
    stats = filter_stats(kernel)
    assert stats.shape == (3, 3, 3) and stats.filters == 32
    assert stats.glorot_limit == pytest.approx(np.sqrt(6 / (27 + 9 * 32)))
    assert stats.ratio == pytest.approx(1.0, abs=0.1)  # a fresh start: mean |w| is about limit / 2
    assert filter_stats(kernel * 3).ratio == pytest.approx(3 * stats.ratio)


def test_the_verdict_and_kerass_accuracy_agree_at_exactly_one_half():
    from cnnviz.backend import keras

    at_half = float(keras.ops.convert_to_numpy(keras.metrics.binary_accuracy([[1.0]], [[THRESHOLD]])).ravel()[0])  # a dog at exactly 0.5
    assert at_half == 0.0 and verdict(THRESHOLD).label == "cat"
    assert RULE == "dog when P(dog) > 0.5, otherwise cat"


def test_classify_agrees_with_last_activation(model, image):
    v = classify(model, image)
    p = activations(model, image)["sigmoid"][0]
    assert v.dog_probability == pytest.approx(float(p), abs=1e-6)


def test_sessions_arriving_at_once_share_one_extractor_traced_once(image):
    """Eight threads at once, as a room's first photos reach a model nobody has used yet:
    each gets the same compiled extractor, and it is traced once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from cnnviz import inspect

    fresh = build_model()
    barrier = threading.Barrier(8)

    def first_photo(_):
        barrier.wait()
        extractor = inspect._extractor(fresh)
        return extractor, activations(fresh, image)["sigmoid"][0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(first_photo, range(8)))
    extractors = {id(extractor) for extractor, _ in results}
    assert len(extractors) == 1 and inspect._extractor(fresh) is results[0][0]
    assert results[0][0].experimental_get_tracing_count() == 1
    assert len({float(p) for _, p in results}) == 1
