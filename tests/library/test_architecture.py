"""The architecture grammar: its arithmetic against Keras's own, and one sentence for each bad line."""

import pytest

from cnnviz.architecture import (
    MAX_PARAMETERS, MODERN, NETWORKS, POOLED, TUTORIAL, layer_rows, line_of, multiply_adds, network_line, parameters,
    pixels_used, receptive_fields, specs, with_first_pooling,
)
from cnnviz.errors import CnnvizError
from cnnviz.model import build_network
LINES = [
    TUTORIAL,
    POOLED,
    MODERN,
    "conv8 bn pool conv16 gap dense32 bn dropout0.2 dense8",  # gap, then dense layers with bn between
    "conv4 pool conv4",  # no dense and no gap: flatten straight into the output unit
]


def test_the_papers_counts():
    assert parameters(TUTORIAL) == 5_046_369
    assert parameters(POOLED) == 1_212_513
    assert parameters(MODERN) <= 2_000_000


@pytest.mark.parametrize("line", LINES)
def test_the_arithmetic_is_keras_own(line):
    model = build_network(line)
    assert parameters(line) == model.count_params()
    assert [s.name for s in specs(line)] == [layer.name for layer in model.layers]
    assert [s.output_shape for s in specs(line)] == [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert line_of(model.layers) == network_line(line)


@pytest.mark.parametrize("line", LINES)
def test_each_formula_adds_up_to_keras_own_count(line):
    """The formula the layer tables show is the arithmetic of that layer's count_params."""
    model = build_network(line)
    for row, layer in zip(layer_rows(line), model.layers, strict=True):
        worked = row.formula.split(" (")[0].replace(",", "").replace("x", "*")
        assert eval(worked, {}) == layer.count_params(), (row.name, row.formula)
        assert row.share == pytest.approx(layer.count_params() / model.count_params())


def test_the_blogs_network_pools_after_the_first_conv():
    assert with_first_pooling(TUTORIAL) == POOLED
    assert with_first_pooling("conv8 bn conv8 dense4") == "conv8 pool bn conv8 dense4"


def test_the_tutorials_line_names_its_layers_as_its_summary_does():
    names = [s.name for s in specs(TUTORIAL)]
    assert names == [
        "conv2d_1", "relu_1", "conv2d_2", "relu_2", "max_pooling2d_1", "conv2d_3", "relu_3", "max_pooling2d_2",
        "flatten_1", "dense_1", "relu_4", "dropout_1", "dense_2", "sigmoid",
    ]


def test_multiply_adds_count_the_convolutions_and_dense_layers():
    # conv2d_1: 148x148 positions x 3x3x3 x 32; conv2d_2: 146x146 x 3x3x32 x 32; conv2d_3: 71x71 x 3x3x32 x 64;
    # dense_1: 35x35x64 = 78,400 inputs x 64; dense_2: 64.
    expected = 148 * 148 * 27 * 32 + 146 * 146 * 288 * 32 + 71 * 71 * 288 * 64 + 78_400 * 64 + 64
    assert multiply_adds(TUTORIAL) == expected


def test_receptive_fields_by_hand():
    # A 3x3 convolution adds 2 input steps, a 2x2 pooling 1 step and then doubles the step:
    # 3; 3 + 2 = 5; 5 + 1 = 6, step 2; 6 + 2x2 = 10; 10 + 2 = 12, step 4.
    fields = {name: (f.size, f.jump) for name, f in receptive_fields(TUTORIAL).items()}
    assert fields == {
        "conv2d_1": (3, 1), "relu_1": (3, 1), "conv2d_2": (5, 1), "relu_2": (5, 1), "max_pooling2d_1": (6, 2),
        "conv2d_3": (10, 2), "relu_3": (10, 2), "max_pooling2d_2": (12, 4),
    }
    modern = receptive_fields(MODERN)
    # ... 36 at step 8 after the third pool; two convolutions: 36 + 16 = 52, 52 + 16 = 68; the pool: 76, step 16.
    assert (modern["conv2d_8"].size, modern["conv2d_8"].jump) == (68, 8)
    assert (modern["max_pooling2d_4"].size, modern["max_pooling2d_4"].jump) == (76, 16)
    assert "flatten_1" not in receptive_fields(TUTORIAL) and "global_average_pooling2d_1" not in modern
    assert receptive_fields(TUTORIAL)["conv2d_3"].window(3, 5) == (6, 10)


@pytest.mark.parametrize("line, used", [(TUTORIAL, 148), (MODERN, 140), (POOLED, 150), ("conv4 conv4 pool conv4 pool", 148)])
def test_the_pixels_used_are_exactly_those_the_verdict_has_a_gradient_for(line, used):
    """Keras's own gradient of the output with respect to the input is zero on the rows and
    columns past pixels_used, and not on the last one used (random weights, a random photo)."""
    import numpy as np
    import tensorflow as tf

    assert pixels_used(line) == used
    model = build_network(line)
    photo = tf.constant(np.random.default_rng(0).random((1, 150, 150, 3), dtype="float32"))
    with tf.GradientTape() as tape:
        tape.watch(photo)
        score = model(photo, training=False)
    reach = np.abs(tape.gradient(score, photo).numpy()[0]).sum(axis=2)
    assert not reach[used:, :].any() and not reach[:, used:].any()
    assert reach[used - 1, :].any() and reach[:, used - 1].any()


def test_names_and_spacing():
    assert network_line("Tutorial") == TUTORIAL and network_line("modern") == MODERN == NETWORKS["modern"]
    assert network_line("  CONV8,pool   dense4 ") == "conv8 pool dense4"
    assert network_line("conv8 dropout0.50 dense04") == "conv8 dropout0.5 dense4"  # as line_of reads it back


def test_the_shipped_networks_fit_under_the_limit():
    assert all(parameters(line) <= MAX_PARAMETERS for line in NETWORKS.values())


@pytest.mark.parametrize(
    "line, words",
    [
        ("conv32 poool dense64", "Unknown block 'poool'"),
        ("conv0 pool", "'conv0' needs a whole number of filters"),
        ("conv32 densex", "'densex' needs a whole number of units"),
        ("conv32 dropout1.5", "'dropout1.5' needs a rate from 0 to below 1"),
        ("conv32 " + "pool " * 8, "After pool 8 the maps are 0×0: remove a pool or a conv."),
        ("pool dense64", "has no conv"),
        ("conv8 dense8 conv8", "conv comes after the maps became a vector"),
        ("conv8 dense8 gap", "dense comes before gap"),
        ("", "The network is empty"),
        (
            "conv32 conv32 pool conv64 pool dense512 dropout0.5",
            f"The network has 40,170,465 parameters; this server holds up to {MAX_PARAMETERS:,} per attendee: "
            "add a pool before the flatten or use fewer units in dense512 (dense_1 holds 40,141,312).",
        ),
        ("conv32 gap dense4096 dense4096 dense4096", "use fewer units in dense4096 or the dense layer before it (dense_2 holds"),
        ("conv4096 conv1024", "use fewer filters in conv1024 or the conv before it (conv2d_2 holds 37,749,760)"),
        ("conv1024", "add a pool or gap before the output (dense_1 holds 22,429,697)"),
    ],
)
def test_every_bad_line_gets_one_sentence(line, words):
    with pytest.raises(CnnvizError) as e:
        specs(line)
    assert words in str(e.value) and "\n" not in str(e.value)
