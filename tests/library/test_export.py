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
    assert steps == ["the photo", "every layer's feature maps", "the filters", "where the network looked", "the convolution check"]
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

    v = classify(model, photo.network_input)
    verdict = contents["03-verdict.txt"].decode()
    assert f"Verdict: {v.label}, {v.probability:.1%} sure" in verdict and "Weights: random weights" in verdict
    check = convolution_check(model, photo.network_input, 0)
    text = contents["07-convolution-check.txt"].decode()
    for name, d in check.max_abs_difference.items():
        assert f"{name}: max |difference| = {d:.3g}" in text
    readme = contents["README.txt"].decode()
    assert all(name in readme for name in contents)


def test_evaluation_figures_render_as_pngs():
    confusion = Image.open(io.BytesIO(charts.confusion_png(np.array([[3, 1], [2, 4]]))))
    histogram = Image.open(io.BytesIO(charts.histogram_png(np.array([0.1, 0.7, 0.4, 0.9]), np.array([0, 0, 1, 1]))))
    assert confusion.format == histogram.format == "PNG"
    assert confusion.size[0] > 300 and histogram.size[0] > 600
