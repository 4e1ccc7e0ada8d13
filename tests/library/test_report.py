"""One photo's report: everything the Explorer, the export and `cnnviz inspect` show, computed once."""

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz import inspect
from cnnviz.inspect import verdict_words
from cnnviz.report import photo_report


@pytest.fixture(scope="module")
def model():
    import keras

    from cnnviz.model import build_model

    keras.utils.set_random_seed(7)  # fixed weights: a random filter can be dead on a photo
    return build_model()


@pytest.fixture(scope="module")
def photo(cat_photo):
    from cnnviz.images import load_photo

    return load_photo(cat_photo)


@pytest.fixture
def passes(monkeypatch):
    """Counts forward passes through the every-layer extractor that `inspect.activations` runs."""
    calls = []
    real = inspect._extractor

    def counting(model):
        run = real(model)

        def counted(x):
            calls.append(x.shape)
            return run(x)

        return counted

    monkeypatch.setattr(inspect, "_extractor", counting)
    return calls


def test_the_verdict_is_the_networks_and_every_map_layer_has_its_mosaic(model, photo):
    from cnnviz.model import predict_dog_probability
    from cnnviz.mosaic import feature_mosaic

    report = photo_report(model, photo)
    p = float(predict_dog_probability(model, photo.network_input)[0])
    assert report.verdict.dog_probability == pytest.approx(p, abs=1e-5)
    assert report.verdict == inspect.verdict(report.verdict.dog_probability)
    assert report.stages() == [
        ["conv2d_1", "relu_1"], ["conv2d_2", "relu_2", "max_pooling2d_1"], ["conv2d_3", "relu_3", "max_pooling2d_2"]
    ]
    shown = np.asarray(Image.open(io.BytesIO(report.mosaics["relu_2"])).convert("RGB"))
    assert np.array_equal(shown, feature_mosaic(report.activations["relu_2"], cols=8))
    assert list(report.activations) == [layer.name for layer in model.layers]


def test_gradients_wait_until_asked_for_and_match_explain(model, photo):
    from cnnviz.explain import explain

    report = photo_report(model, photo)
    # The first paint waits for neither Grad-CAM nor the mosaics, which one tab each shows.
    assert "explanation" not in vars(report) and "mosaics" not in vars(report)
    assert report.stages()[0] == ["conv2d_1", "relu_1"] and "mosaics" not in vars(report)
    expected = explain(model, photo.network_input)
    assert report.explanation.dog_probability == pytest.approx(expected.dog_probability, abs=1e-6)
    assert np.allclose(report.explanation.grad_cams["cat"].heatmap, expected.grad_cams["cat"].heatmap, atol=1e-5)
    assert report.explanation is report.explanation
    assert {name: image.shape for name, image in report.looked.items()} == {
        "gradcam-dog": (300, 300, 3), "gradcam-cat": (300, 300, 3), "saliency": (300, 300, 3)
    }


@pytest.mark.parametrize("k", [0, 7, 31])
def test_the_convolution_check_reads_the_reports_own_map_without_a_second_pass(model, photo, passes, k):
    report = photo_report(model, photo)
    assert len(passes) == 1
    check = report.convolution_check(k)
    assert len(passes) == 2, "the check should add one pass only: the unscaled photo, for the tutorial's check"
    report.convolution_check((k + 1) % 32)
    assert len(passes) == 2, "a second filter's check ran the network again"
    name, maps = report.first_conv
    assert name == "relu_1"
    assert np.array_equal(check.network, maps[:, :, k].astype("float64"))
    d = check.max_abs_difference
    assert check.network.max() > 0
    assert d["correlate2d"] < 1e-5 and d["flipped convolve2d"] < 1e-5 and d[inspect.TUTORIAL_VARIANT] > 1e-3
    # Without the maps, the check runs its own passes and finds the same numbers.
    alone = inspect.convolution_check(model, photo.network_input, k)
    assert len(passes) == 4
    assert alone.max_abs_difference == pytest.approx(d, abs=1e-6)
    assert report.convolution_check(k) is check
    assert [image.shape for image in report.convolution_pictures(k)] == [(296, 296, 3)] * 5


def test_the_dense_arithmetic_adds_up_to_the_networks_z(model, photo):
    report = photo_report(model, photo)
    dense = report.dense
    assert (dense.hidden, dense.output, dense.inputs) == ("dense_1", "dense_2", 78400)
    assert dense.values.shape == dense.weights.shape == (64,)
    assert dense.weighted_sum == pytest.approx(float(dense.values @ dense.weights))
    assert dense.z == pytest.approx(dense.weighted_sum + dense.bias, abs=1e-4)
    assert 1 / (1 + np.exp(-dense.z)) == pytest.approx(report.verdict.dog_probability, abs=1e-5)
    assert not dense.pooled


def test_a_network_that_pools_globally_reads_out_its_pooled_values(photo):
    """The modern network has no hidden dense layer: its output weighs global average pooling's
    256 values (each the mean of a 5x5 map), and the arithmetic still adds up to z."""
    from cnnviz.architecture import MODERN
    from cnnviz.model import build_network

    report = photo_report(build_network(MODERN), photo)
    dense = report.dense
    assert (dense.hidden, dense.output, dense.inputs, dense.pooled) == ("global_average_pooling2d_1", "dense_1", 25, True)
    assert dense.values.shape == dense.weights.shape == (256,)
    assert dense.z == pytest.approx(dense.weighted_sum + dense.bias, abs=1e-4)


def test_export_builds_its_files_from_the_report_and_runs_nothing_again(model, photo, monkeypatch):
    from cnnviz import explain, report as report_module
    from cnnviz.export import image_figures

    report = photo_report(model, photo)
    report.explanation, report.convolution_check(0)  # what the Explorer's tabs have computed by then

    def refuse(*args, **kwargs):
        raise AssertionError("export ran the network again")

    for module, name in ((inspect, "_extractor"), (report_module, "explain"), (report_module, "convolution_check"),
                         (explain, "grad_cam"), (explain, "saliency")):
        monkeypatch.setattr(module, name, refuse)
    files = image_figures(report, "seed 7")
    assert files["04-feature-maps/04-relu_2.png"] is report.mosaics["relu_2"]
    assert files["05-filters/conv2d_1-rgb.png"] is report.filter_png("conv2d_1")
    assert f"Verdict: {verdict_words(report.verdict)}" in files["03-verdict.txt"].decode()
    assert "sure" not in files["03-verdict.txt"].decode()


def test_layer_png_covers_every_layer(model, photo):
    report = photo_report(model, photo)
    for _, name in report.numbered_layers():
        png = report.layer_png(name)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(report.layer_png("dense_1"))).size == ((64 + 2) * 12, (1 + 2) * 12)  # one bordered strip


@pytest.mark.slow
def test_the_three_new_views_wait_until_asked_for_and_are_the_modules_own(model, photo, passes):
    """The overview reads the report's one pass; occlusion and FGSM run only when asked, for the
    verdict's class, and give what their modules give."""
    from cnnviz.adversarial import attack_direction, smallest_flip
    from cnnviz.occlusion import agreement, occlusion

    report = photo_report(model, photo)
    assert not {"overview", "occlusion", "occlusion_agreement", "attack_direction", "smallest_flip"} & set(vars(report))
    assert [c.layer for c in report.overview.columns] == ["relu_1", "relu_2", "max_pooling2d_1", "relu_3", "max_pooling2d_2"]
    assert len(passes) == 1, "the overview ran the network again"
    assert "occlusion" not in vars(report) and "smallest_flip" not in vars(report)

    label = report.verdict.label
    alone = occlusion(model, photo.network_input, label)
    assert report.occlusion.target == label and np.allclose(report.occlusion.drops, alone.drops, atol=1e-6)
    expected = agreement(alone, report.explanation.grad_cams[label].heatmap)
    assert report.occlusion_agreement == pytest.approx(expected, abs=1e-6)
    assert report.occlusion_figure().shape[1] == 3 * 16 + 2 * 300, "occlusion and Grad-CAM side by side"

    direction = attack_direction(model, photo.network_input, label)
    assert np.array_equal(report.attack_direction, direction)
    epsilon = report.smallest_flip
    assert epsilon == smallest_flip(model, photo.network_input, direction, report.verdict)
    if epsilon is not None:
        assert report.fooled(epsilon).flipped and not report.fooled(epsilon / 2).flipped
    assert report.fooled_figure(epsilon or 0.05).shape[1] == 4 * 16 + 3 * 300, "before, the change, after"
    from cnnviz.adversarial import amplified, fool, random_direction
    from cnnviz.mosaic import upscale

    fooled, (before, change, after) = report.fooled_pictures(0.01)
    assert fooled.after == report.fooled(0.01).after and before.shape == change.shape == after.shape == (300, 300, 3)
    assert np.array_equal(change, upscale(amplified(photo.network_input, fooled.perturbed, 0.01), 2))
    noise = fool(model, photo.network_input, 0.01, random_direction(photo.network_input.shape), report.verdict)
    assert report.noised(0.01).after == noise.after, "the control: the same ε in random directions"
