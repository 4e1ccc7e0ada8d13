"""The timeline's numbers: how far each filter moved, and a probe's map from stored weights alone."""

import numpy as np
import pytest

from cnnviz.timeline import Snapshot, first_layer_map, movement, snapshots, typical_length


def test_snapshots_follow_the_kept_epochs_and_movement_is_per_filter_distance():
    k0 = np.zeros((3, 3, 3, 4))
    k1 = k0.copy()
    k1[0, 0, 0, 1] = 3.0
    k1[2, 2, 2, 1] = 4.0  # filter 1 moves by 5
    k2 = k1.copy()
    k2[1, 1, 1, 3] = -2.0  # then filter 3 by 2
    b = np.zeros(4)
    rows = [{"epoch": 1, "kept": True}, {"epoch": 2, "kept": False}, {"epoch": 2, "kept": True}]  # the first 2 rolled back
    shots = snapshots((k0, b), rows, [(k1, b), (k0, b), (k2, b)])
    assert [s.label for s in shots] == ["start", "epoch 1", "epoch 2"]
    assert movement(shots).tolist() == [[0, 5, 0, 0], [0, 0, 0, 2]]
    assert snapshots(None, [], []) == [] and movement([Snapshot("start", k0, b)]).shape == (0, 4)


def test_a_probes_map_from_stored_weights_is_the_networks_own():
    from skimage import data

    from cnnviz.images import load_photo
    from cnnviz.inspect import activations
    from cnnviz.model import build_model
    from cnnviz.mosaic import to_png

    model = build_model()
    kernel, bias = model.layers[0].get_weights()
    bias = bias + np.linspace(-0.1, 0.1, bias.size).astype("float32")
    model.layers[0].set_weights([kernel, bias])
    image = load_photo(to_png(data.chelsea())).network_input
    relu_1 = activations(model, image)["relu_1"]
    for k in (0, 17, 31):
        assert np.max(np.abs(first_layer_map(image, kernel, bias, k) - relu_1[:, :, k])) < 1e-5
    with pytest.raises(IndexError):
        first_layer_map(image, kernel, bias, 32)


def test_a_filters_typical_length_is_the_mean_of_their_lengths():
    kernel = np.zeros((3, 3, 3, 2))
    kernel[0, 0, 0, 0], kernel[1, 1, 1, 1] = 3.0, 4.0
    assert typical_length(kernel) == pytest.approx(3.5)
