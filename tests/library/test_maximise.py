"""What a unit looks for: the made input against the photos' patches, the patches against their
receptive fields, recomputed here layer by layer, and the shared memo."""

import gc
import weakref

import numpy as np
import pytest

from cnnviz import maximise
from cnnviz.architecture import receptive_fields
from cnnviz.dataset import find_dataset
from cnnviz.errors import CnnvizError
from cnnviz.model import build_network, load_default_model
from cnnviz.pipeline import make_pipeline

SMALL = "conv4 pool conv8 dense4"  # conv2d_2 sees 3 + 1 + 2x2 = 8 pixels at steps of 2


@pytest.fixture(scope="module")
def shipped():
    return load_default_model()[0]


@pytest.fixture(scope="module")
def sample(data_root):
    """A balanced sample of the originals, photos the shipped weights were never trained on."""
    return maximise.photo_sample(find_dataset(data_root / "originals").items, maximise.SAMPLE)


def through(model, x, layer):
    """`x` (n, h, w, 3) through the model's own layers as far as `layer`, one by one, as numpy."""
    for each in model.layers:
        x = each(x, training=False)
        if each.name == layer:
            return np.asarray(x)
    raise AssertionError(layer)


@pytest.mark.slow
@pytest.mark.parametrize("unit", [("conv2d_1", 8), ("conv2d_2", 17), ("conv2d_3", 7), ("conv2d_3", 59), "dog", "cat"])
def test_the_made_input_excites_its_unit_more_than_any_of_the_nine_patches(shipped, sample, unit):
    unit = maximise.output_unit(shipped, unit) if isinstance(unit, str) else maximise.filter_unit(shipped, *unit)
    made = maximise.made_input(shipped, unit)
    patches = maximise.top_patches(shipped, unit, sample)
    assert len(patches.patches) == maximise.PATCHES and patches.searched == len(sample)
    assert made.activation > max(p.activation for p in patches.patches) > made.start
    # The made input's number is the network's own on the picture shown, recomputed here.
    out = through(shipped, made.image[None].astype("float32") / 255, unit.layer)
    recomputed = unit.sign * (out[0, 0] if out.ndim == 2 else out[0, :, :, unit.index].max())
    assert recomputed == pytest.approx(made.activation, rel=1e-4, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["conv2d_2", "conv2d_3"])
def test_each_patch_is_the_receptive_field_of_its_photos_strongest_value(shipped, sample, layer):
    unit = maximise.filter_unit(shipped, layer, 5)
    found = maximise.top_patches(shipped, unit, sample)
    field = receptive_fields("conv32 conv32 pool conv64 pool dense64 dropout0.5")[layer]
    patches = found.patches
    assert [p.size for p in patches] == [field.size] * len(patches) and found.field == field
    assert [p.activation for p in patches] == sorted((p.activation for p in patches), reverse=True)
    assert len({p.path for p in patches}) == len(patches)  # one patch a photo
    for patch in patches[:2]:
        # The crop alone, through the layers, is one value: the patch's (it sees nothing else).
        alone = through(shipped, patch.pixels[None].astype("float32") / 255, layer)
        assert alone.shape[1:3] == (1, 1)
        assert alone[0, 0, 0, unit.index] == pytest.approx(patch.activation, rel=1e-4, abs=1e-5)
        # The whole photo, decoded by the validation pipeline afresh: the patch is where its map peaks.
        photo = next(iter(make_pipeline([(patch.path, patch.label)], 1, cache=False)))[0].numpy()
        feature_map = through(shipped, photo, layer)[0, :, :, unit.index]
        row, col = np.unravel_index(feature_map.argmax(), feature_map.shape)
        assert feature_map.max() == pytest.approx(patch.activation, rel=1e-4, abs=1e-5)
        assert field.window(row, col) == (patch.top, patch.left)
        top, left = field.window(row, col)
        crop = np.rint(photo[0, top : top + field.size, left : left + field.size] * 255).astype("uint8")
        assert np.array_equal(crop, patch.pixels)


def test_units_are_found_by_type_and_checked():
    model = build_network(SMALL)
    assert maximise.conv_layers(model) == ["conv2d_1", "conv2d_2"]
    assert maximise.filter_unit(model, "conv2d_2", 7).words() == "conv2d_2's filter 7"
    assert maximise.output_unit(model, "cat").sign == -1 and maximise.output_unit(model, "dog").words() == "the dog output (+z)"
    for layer, index in [("dense_1", 0), ("relu_1", 0), ("conv2d_2", 8), ("conv2d_1", -1)]:
        with pytest.raises(CnnvizError):
            maximise.filter_unit(model, layer, index)
    with pytest.raises(CnnvizError, match="'dog' or 'cat'"):
        maximise.output_unit(model, "horse")


def test_a_filters_canvas_keeps_its_centre_unit_on_whole_steps():
    model = build_network("conv4 pool conv4 pool conv4 pool conv4 conv4 dense4")
    for layer in maximise.conv_layers(model):
        unit = maximise.filter_unit(model, layer, 0)
        view, field = maximise.canvas(model, unit), maximise.receptive_field(model, unit)
        assert view.side == min(150, max(maximise.SMALLEST_SIDE, 2 * field.size))
        assert view.margin % field.jump == 0 and view.centre % field.jump == 0
        # Every shift leaves the centre unit's window inside the view.
        assert view.margin <= view.centre and view.centre + view.margin + field.size <= view.side
    assert maximise.canvas(model, maximise.output_unit(model, "dog")).side == 150


def test_ascent_raises_the_unit_and_the_memo_serves_the_same_weights_only():
    model = build_network(SMALL)
    unit = maximise.filter_unit(model, "conv2d_2", 3)
    progress = []
    made = maximise.made_input(model, unit, steps=12, on_step=lambda done, total: progress.append((done, total)))
    assert progress == [(t, 12) for t in range(1, 13)]
    assert made.activation > made.start and made.image.shape == (64, 64, 3) and made.image.dtype == np.uint8
    assert made.patch.shape == (8, 8, 3) and made.png[:4] == b"\x89PNG"
    again = []
    assert maximise.made_input(model, unit, steps=12, on_step=lambda *a: again.append(a)) is made and again == [(12, 12)]
    model.set_weights([w * 1.5 for w in model.get_weights()])  # as training moves them
    assert maximise.made_input(model, unit, steps=12) is not made


def test_the_figure_puts_the_patches_beside_the_made_input(data_root):
    model = build_network(SMALL)
    items = maximise.photo_sample(find_dataset(data_root / "originals").items, 12)
    unit = maximise.filter_unit(model, "conv2d_2", 1)
    made = maximise.made_input(model, unit, steps=2)
    patches = maximise.top_patches(model, unit, items)
    alone, both = maximise.figure(made), maximise.figure(made, patches)
    side = 3 * maximise.FIGURE_CELL + 8
    assert alone.shape == (side, side, 3)
    assert both.shape[0] == side and both.shape[1] > 2 * side
    assert (alone[..., 0] > 200).any()  # the red frame around the strongest value's receptive field


def test_a_dropped_model_is_freed(data_root):
    model = build_network(SMALL)
    items = maximise.photo_sample(find_dataset(data_root / "originals").items, 6)
    unit = maximise.filter_unit(model, "conv2d_1", 0)
    maximise.made_input(model, unit, steps=2)
    maximise.top_patches(model, unit, items)
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None


def test_many_layers_each_traced_once_raise_no_retracing_warning(caplog, data_root):
    model = build_network("conv4 conv4 conv4 conv4 conv4 conv4 dense4")
    items = maximise.photo_sample(find_dataset(data_root / "originals").items, 4)
    for layer in maximise.conv_layers(model):
        unit = maximise.filter_unit(model, layer, 0)
        maximise.made_input(model, unit, steps=1)
        maximise.top_patches(model, unit, items)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
