"""cnnviz.side_by_side: two networks' figures on the same photo and the same labelled photos."""

import numpy as np

from cnnviz.architecture import MODERN, TUTORIAL, multiply_adds
from cnnviz.images import load_photo
from cnnviz.inspect import classify
from cnnviz.model import build_network, compile_model, load_default_model
from cnnviz.side_by_side import side


def test_each_side_is_its_own_networks_figures_on_the_same_photos(data_root, cat_photo):
    items = [(str(data_root / "originals" / f"{label}.{i}.jpg"), y) for i in range(10) for y, label in enumerate(("cat", "dog"))]
    photo = load_photo(cat_photo)
    tutorial, _card = load_default_model()
    modern = compile_model(build_network(MODERN))
    found = [side(model, photo, items) for model in (tutorial, modern)]
    assert [s.name for s in found] == ["tutorial", "modern"]
    for s, model in zip(found, (tutorial, modern)):
        assert s.parameters == model.count_params()
        assert s.multiply_adds == multiply_adds(MODERN if s.name == "modern" else TUTORIAL)
        assert s.ms_per_photo > 0
        assert s.evaluation.n == len(items) and [p for p, _ in s.evaluation.items] == [p for p, _ in items]
        alone = classify(model, photo.network_input)  # a graph and an eager pass: the same up to float rounding
        assert s.verdict.label == alone.label and abs(s.verdict.dog_probability - alone.dog_probability) < 1e-5
        assert s.looked.shape[2] == 3 and s.looked.shape[0] >= 150
    assert found[0].multiply_adds < found[1].multiply_adds and found[0].parameters > found[1].parameters
    # the shipped tutorial weights never trained on the originals, and get most of them right
    assert found[0].evaluation.accuracy >= 0.7
    assert not np.array_equal(found[0].looked, found[1].looked)
