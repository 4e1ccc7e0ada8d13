"""The network's map of the photos: it separates the classes on the shipped weights, it is the
network's own numbers, and the same weights, photos and seed draw the same map."""

import numpy as np
import pytest

from cnnviz import photomap
from cnnviz.dataset import find_dataset
from cnnviz.evaluation import sample_items
from cnnviz.model import build_network, load_default_model, predict_dog_probability
from cnnviz.pipeline import make_pipeline


@pytest.fixture(scope="module")
def originals(data_root):
    """Photos the shipped weights were never trained on (their card holds these ids out)."""
    return find_dataset(data_root / "originals").items


@pytest.mark.slow
def test_the_shipped_weights_map_separates_cats_from_dogs(originals):
    model = load_default_model()[0]
    found = photomap.photo_map(model, originals)
    n = len(originals)
    assert found.layer == "dropout_1" and found.dimensions == 64  # what dense_2 weighs, found by structure
    assert found.pca.shape == found.tsne.shape == (n, 2) and found.thumbnails.shape == (n, 64, 64, 3)
    assert len(found.names) == n and set(found.labels) == {0, 1}
    # A photo's nearest neighbour on the 2-D PCA map has its class far more often than chance.
    assert photomap.neighbour_accuracy(found.pca, found.labels) > 0.7
    assert photomap.neighbour_accuracy(found.tsne, found.labels) > 0.7
    # Dogs to the right: the first axis orders the photos much as P(dog) does.
    assert found.pca[found.labels == 1, 0].mean() > 0 and np.corrcoef(found.pca[:, 0], found.dog_probability)[0, 1] > 0.5
    # P(dog) and the wrong verdicts are the network's own, recomputed photo by photo.
    some = [0, n // 2, n - 1]
    x = np.concatenate([next(iter(make_pipeline([originals[i]], 1, cache=False)))[0].numpy() for i in some])
    assert predict_dog_probability(model, x) == pytest.approx(found.dog_probability[some], abs=1e-5)
    assert np.array_equal(found.misclassified, (found.dog_probability > 0.5) != (found.labels == 1))
    # Seeded: drawn again from scratch, the same map.
    again = photomap._photo_map(model, originals, 13, 32, None)
    assert np.array_equal(again.pca, found.pca) and np.array_equal(again.tsne, found.tsne)
    assert photomap.photo_map(model, originals) is found  # and the memo serves it


def test_the_csv_has_a_row_a_photo_and_a_untrained_network_maps_too(originals):
    model = build_network("conv4 pool conv4 pool gap dense8")
    items = sample_items(originals, 24)
    progress = []
    found = photomap.photo_map(model, items, on_batch=lambda done, total: progress.append((done, total)), batch_size=16)
    assert progress == [(16, 24), (24, 24)] and found.layer == "relu_3" and found.dimensions == 8
    rows = found.csv().splitlines()
    assert rows[0].split(",")[:3] == ["photo", "true", "p_dog"] and len(rows) == 25
    assert rows[1].split(",")[0] == found.names[0] and found.thumbnail_png(0).startswith(b"\x89PNG")


def test_pca_orients_dogs_right_and_explains_the_variance():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    features = rng.normal(0, 0.1, (100, 5))
    features[:, 2] += np.where(labels == 1, -3.0, 3.0)  # dogs at -3 along one direction: flipped to the right
    coords, explained = photomap.pca_2d(features, labels)
    assert coords[labels == 1, 0].mean() > 0 and coords[labels == 1, 1].mean() >= 0
    assert explained[0] > 0.9 and sum(explained) <= 1
    assert photomap.neighbour_accuracy(coords, labels) == 1.0
    assert photomap.neighbour_accuracy(rng.normal(size=(100, 2)), labels) < 0.8


def test_identical_features_make_one_point_without_failing():
    labels = np.repeat([0, 1], 10)
    coords, explained = photomap.pca_2d(np.zeros((20, 4)), labels)
    assert not coords.any() and explained == (0.0, 0.0)
    assert not photomap.tsne_2d(np.zeros((20, 4)), coords, 13).any()


def test_the_charts_mark_wrong_verdicts_and_carry_each_points_index():
    from cnnviz import charts

    labels = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.8, 0.9, 0.3, 0.5])  # the cat at 0.8 and the dogs at 0.3 and exactly 0.5 are wrong
    points = np.arange(10, dtype="float64").reshape(5, 2)
    found = photomap.PhotoMap("dropout_1", [f"/x/{i}.jpg" for i in range(5)], labels, p, points, -points, (0.6, 0.2), 64,
                              np.zeros((5, 64, 64, 3), "uint8"))
    figure = charts.photo_map_figure(found, "pca")
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {"true cats", "true cats, verdict wrong", "true dogs", "true dogs, verdict wrong"}
    wrong_dogs = traces["true dogs, verdict wrong"]
    assert np.asarray(wrong_dogs.customdata)[:, 0].tolist() == [3, 4] and list(wrong_dogs.text) == ["3.jpg", "4.jpg"]
    assert wrong_dogs.marker.symbol == "x" and list(wrong_dogs.x) == [6.0, 8.0]
    assert "60% of the variance" in figure.layout.xaxis.title.text
    # No drag-to-select by default: Streamlit turns a "select" dragmode's clicks into events that
    # select nothing (the browser tour clicks a dot and opens its photo).
    assert figure.layout.dragmode is None
    assert [list(trace.x) for trace in charts.photo_map_figure(found, "tsne").data[:2]] == [[0.0], [-2.0]]
    assert charts.photo_map_png(found)[:4] == b"\x89PNG"
