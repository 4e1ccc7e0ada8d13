"""The workshop pack: one zip with every figure for one photo, and PNG versions of the evaluation figures."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from cnnviz import charts
from cnnviz.export import image_figures, zip_bytes


@pytest.fixture(scope="module")
def pack():
    from skimage import data

    from cnnviz.images import load_photo
    from cnnviz.model import build_model
    from cnnviz.mosaic import to_png
    from cnnviz.report import photo_report

    model = build_model()
    photo = load_photo(to_png(data.chelsea()), name="chelsea.png")
    steps = []
    files = image_figures(photo_report(model, photo), "random weights", on_step=steps.append)
    return model, photo, files, steps


def test_the_zip_holds_every_figure_and_each_png_opens(pack):
    from cnnviz.inspect import activations, classify, convolution_check
    from cnnviz.mosaic import feature_mosaic

    model, photo, files, steps = pack
    assert steps == ["the photo", "every layer's feature maps", "the filters", "where the network looked", "the convolution check",
                     "the overview", "occlusion", "fooling it"]
    with zipfile.ZipFile(io.BytesIO(zip_bytes(files, folder="cnnviz-chelsea"))) as zf:
        names = zf.namelist()
        assert all(name.startswith("cnnviz-chelsea/") for name in names)
        contents = {name.split("/", 1)[1]: zf.read(name) for name in names}
    assert contents == files

    maps = sorted(name for name in contents if name.startswith("04-feature-maps/"))
    assert [name.split("-", 3)[-1] for name in maps] == [
        "conv2d_1.png", "relu_1.png", "conv2d_2.png", "relu_2.png", "max_pooling2d_1.png",
        "conv2d_3.png", "relu_3.png", "max_pooling2d_2.png",
    ]
    relu_3 = np.asarray(Image.open(io.BytesIO(contents[maps[6]])).convert("RGB"))  # a palette PNG
    assert np.array_equal(relu_3, feature_mosaic(activations(model, photo.network_input)["relu_3"], cols=8))
    for name in ("05-filters/conv2d_1-rgb.png", "05-filters/conv2d_3-input-channel-0.png", "06-where-it-looked/grad-cam-dog.png",
                 "06-where-it-looked/grad-cam-cat.png", "06-where-it-looked/saliency.png", "07-convolution-check.png"):
        assert Image.open(io.BytesIO(contents[name])).size[0] > 100
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(contents["01-photo.png"]))), photo.original)

    from cnnviz.inspect import SCORE_NOTE, verdict_words

    v = classify(model, photo.network_input)
    verdict = contents["03-verdict.txt"].decode()

    assert f"Verdict: {verdict_words(v)}" in verdict and "Weights: random weights" in verdict
    assert "sure" not in verdict and SCORE_NOTE in verdict
    assert "`== 1` is" in verdict  # the tutorial's unscaled test, for the same photo
    check = convolution_check(model, photo.network_input, 0)
    text = contents["07-convolution-check.txt"].decode()
    for name, d in check.max_abs_difference.items():
        assert f"{name}: max |difference| = {d:.3g}" in text
    # The three views: the overview, occlusion beside Grad-CAM, and the photo fooled at the smallest flipping ε.
    from cnnviz.adversarial import MAX_EPSILON, epsilon_words, flip_words
    from cnnviz.report import photo_report

    report = photo_report(model, photo)
    assert contents["08-overview.png"] == report.overview.png
    assert Image.open(io.BytesIO(contents["09-occlusion.png"])).size == Image.fromarray(report.occlusion_figure()).size
    assert contents["09-occlusion.txt"].decode().startswith("7x7 grey 30-pixel squares, stride 20")
    fooled = contents["10-fooled.txt"].decode()
    epsilon = report.smallest_flip or MAX_EPSILON
    assert fooled.startswith(flip_words(report.verdict, report.smallest_flip)) and f"At {epsilon_words(epsilon)}: " in fooled
    assert f"random ±ε signs instead: {verdict_words(report.noised(epsilon).after)}" in fooled
    readme = contents["README.txt"].decode()
    assert all(name in readme for name in contents)
    from cnnviz.export import GRAD_CAM_KEY, LEFT_OUT

    assert "every figure" not in readme and all(part in readme for part in LEFT_OUT)
    assert GRAD_CAM_KEY in readme and "Weights: random weights." in readme


def test_the_pack_checks_the_chosen_filter_and_says_when_it_is_silent_and_fools_at_the_epsilon_given():
    import keras
    from skimage import data

    from cnnviz.images import load_photo
    from cnnviz.inspect import verdict_words
    from cnnviz.model import build_model
    from cnnviz.mosaic import to_png
    from cnnviz.report import photo_report

    keras.utils.set_random_seed(3)
    model = build_model()
    kernel, bias = model.get_layer("conv2d_1").get_weights()
    bias[5] = -1e3  # filter 5 can never fire on a [0, 1] photo
    model.get_layer("conv2d_1").set_weights([kernel, bias])
    report = photo_report(model, load_photo(to_png(data.chelsea()), name="chelsea.png"))
    text = image_figures(report, filter_index=5)["07-convolution-check.txt"].decode()
    assert text.startswith("First-layer filter 5:")
    assert "Filter 5 never fires on this photo" in text and "proves nothing" in text
    firing = report.convolution_check(5).firing
    assert f"Filters that do fire here: {', '.join(str(i) for i in firing[:5])}" in text
    files = image_figures(report, filter_index=firing[0], epsilon=0.01)
    text = files["07-convolution-check.txt"].decode()
    assert "never fires" not in text and "reproduce the network's map" in text
    assert f"At ε = 0.01000 (2.55 of 255 levels): {verdict_words(report.fooled(0.01).after)}" in files["10-fooled.txt"].decode()


def test_the_pack_holds_what_a_unit_looks_for_beside_the_patches_of_the_photos_given(pack, data_root):
    from cnnviz import maximise
    from cnnviz.report import photo_report

    model, photo, _files, _steps = pack
    unit = maximise.filter_unit(model, "conv2d_3", 7)
    photos = [(str(data_root / "originals" / f"{name}.{i}.jpg"), label) for label, name in enumerate(("cat", "dog")) for i in range(6)]
    files = image_figures(photo_report(model, photo), unit=unit, photos=photos)
    made, patches = maximise.made_input(model, unit), maximise.top_patches(model, unit, photos)
    picture = Image.open(io.BytesIO(files["11-looks-for-conv2d-3-filter-7.png"]))
    assert picture.size == Image.fromarray(maximise.figure(made, patches)).size
    assert files["11-looks-for.txt"].decode() == f"{maximise.looks_for_words(made, patches)}\n{maximise.MEANING}\n"
    assert "the strongest of 12 photos" in files["11-looks-for.txt"].decode()


def test_evaluation_figures_render_as_pngs():
    confusion = Image.open(io.BytesIO(charts.confusion_png(np.array([[3, 1], [2, 4]]))))
    histogram = Image.open(io.BytesIO(charts.histogram_png(np.array([0.1, 0.7, 0.4, 0.9]), np.array([0, 0, 1, 1]))))
    assert confusion.format == histogram.format == "PNG"
    assert confusion.size[0] > 300 and histogram.size[0] > 600
