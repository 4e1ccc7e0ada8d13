"""The Layer Explorer under streamlit.testing.

Only the open tab is drawn and computes its parts of the photo's report; a test opens a
tab as a click does, through its key. The verdict, mosaics, filters, dense arithmetic and
convolution check carry the library's numbers; the closer look, pixel view, step-through,
"where it looked" and export tabs rerun without errors, and a tab's widgets keep their
values while it is closed; samples, validation images and real uploads go through every layer.

Every odd photo a workshop room sends goes through the uploader in one session, one after
another: each accepted one is shown upright with its verdict; each refused one gives exactly
one st.error (the library's own sentence) and no exception, and the session goes on. The
bytes are built with Pillow here; what the library does with each kind of file, pixel by
pixel, is tested in tests/library/test_images.py.
"""

from __future__ import annotations

import io
import re
import struct
import tomllib
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.errors import CnnvizError
from cnnviz.images import MAX_BYTES, MAX_PIXELS, load_photo
from cnnviz.session import SessionModel
from cnnviz_app.common import UPLOAD_TYPES
from cnnviz_app.explorer_tabs import TAB, TABS
from tests.app.helpers import APP, REPO, assert_no_exception, open_page, plotly_array, plotly_specs, seen_by_the_shipped_weights, shipped, split_of, texts


def explorer(**state) -> AppTest:
    return open_page("cnnviz_app/pages/layer_explorer.py", **state)


def open_tab(at: AppTest, label: str) -> AppTest:
    """Opens one of the Explorer's tabs, as a click on it does: the page reruns with it open."""
    at.session_state[TAB] = label
    at.run()
    assert_no_exception(at)
    return at


def shown_report(at: AppTest):
    """The session's report of the photo shown (its memo holds the last two; this page shows one)."""
    return next(iter(at.session_state["_memo"].values()))


LAZY_PARTS = (
    "mosaics", "filters", "dense", "explanation", "looked", "unscaled_activations", "first_conv", "tutorial_median_correlation",
    "overview", "occlusion", "occlusion_agreement", "occluded", "attack_direction", "smallest_flip",
)


def computed(report) -> set[str]:
    """The report's parts computed so far (its lazy parts are kept on the report once made)."""
    done = {name for name in LAZY_PARTS if name in vars(report)}
    return done | ({"convolution checks"} if report._checks else set()) | ({"filter PNGs"} if report._filter_pngs else set())


def test_only_the_open_tab_computes_and_the_first_visitor_sees_the_first():
    at = explorer()
    report = shown_report(at)
    assert at.session_state[TAB] == next(iter(TABS))  # the pixels: the tutorial's first step
    assert computed(report) == set()  # the verdict needs one pass, nothing more
    assert "A photo is, to a computer, a grid of numbers" in texts(at) and "conv2d_1 · convolution" not in texts(at)

    open_tab(at, "Where it looked")
    assert shown_report(at) is report  # the same report: a tab switch does not redo the pass
    assert computed(report) == {"explanation", "looked"}
    assert "Grad-CAM for **dog**" in texts(at) and "A photo is, to a computer" not in texts(at)

    open_tab(at, "Feature maps, layer by layer")
    assert computed(report) == {"explanation", "looked", "mosaics"}
    assert "conv2d_1 · convolution · 148×148×32" in texts(at) and "Grad-CAM for" not in texts(at)


def test_every_session_with_the_shipped_weights_shares_one_model_and_its_compiled_pass():
    from cnnviz import inspect

    first, second = explorer(), explorer()
    mine, theirs = shown_report(first), shown_report(second)
    assert mine is not theirs and mine.model is theirs.model is shipped()[0]
    extractor = inspect._extractor(mine.model)
    assert extractor.experimental_get_tracing_count() == 1  # compiled by whichever session came first, once


def test_layer_explorer_chelsea_verdict_and_every_tab_carries_the_librarys_numbers():
    from cnnviz.inspect import SCORE_NOTE, classify
    from cnnviz.model import shape_sentences
    from cnnviz_app.common import chelsea
    from cnnviz_app.explorer_tabs import filter_sentence

    model, card = shipped()
    at = explorer()
    body = texts(at)
    photo = chelsea()

    # The verdict is the library's, for the shipped (or untrained) weights; the 0.5 rule is stated.
    report = shown_report(at)
    verdict = report.verdict
    expected = classify(model, photo.network_input)
    assert verdict.label == expected.label and verdict.dog_probability == pytest.approx(expected.dog_probability, abs=1e-5)
    assert f"P(dog) = {verdict.dog_probability:.3f}" in body and "dog when P(dog) > 0.5, otherwise cat" in body
    assert f"Verdict: **{verdict.label}**" in body and "sure" not in body
    assert f"P(cat) = {1 - verdict.dog_probability:.3f}, P(dog) = {verdict.dog_probability:.3f}" in body
    assert SCORE_NOTE in body
    assert ("These weights are untrained" in body) == (card is None)
    assert "What the network gets: squashed to 150 × 150" in body

    # Every conv, ReLU and pool layer has a mosaic labelled with its output shape.
    body = texts(open_tab(at, "Feature maps, layer by layer"))
    for caption in (
        "conv2d_1 · convolution · 148×148×32",
        "relu_1 · relu · 148×148×32",
        "max_pooling2d_1 · max pooling · 73×73×32",
        "conv2d_3 · convolution · 71×71×64",
        "max_pooling2d_2 · max pooling · 35×35×64",
    ):
        assert caption in body
    assert "150 − 3 + 1 = 148" in body and "keeps ⌊71/2⌋ = 35" in body
    for sentence in shape_sentences(report.model):
        assert sentence in body

    # Filters: what a 3 x 3 filter can show, and their size against Keras's random start, computed.
    body = texts(open_tab(at, "Filters"))
    assert "conv2d_1 in RGB" in body and "conv2d_1, blue channel" in body
    assert "applies to input channel 0 (one of 32" in body
    assert filter_sentence(report.first_filter_stats) in body and "edges and colour blobs" not in body

    # The 64 dense activations, and the arithmetic to the verdict.
    body = texts(open_tab(at, "Dense layer and verdict"))
    dense = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "bar")
    assert plotly_array(dense["data"][0]["y"]).shape == (64,)
    assert "dense_2** adds them up" in body
    zero = int((report.dense.values == 0).sum())
    assert f"{zero} of the 64 units are exactly 0 for this photo" in body

    # The tutorial's unscaled `== 1` test, every number from the library.
    body = texts(open_tab(at, "The tutorial's test: unscaled, == 1"))
    for sentence in report.unscaled_test.sentences():
        assert sentence in body

    # The convolution check: correlate2d and the flipped convolve2d match, the tutorial's does not.
    body = texts(open_tab(at, "Is the CNN really convolving?"))
    diffs = [float(x) for x in re.findall(r"max \|difference\| = ([0-9.e+-]+)", body)]
    assert len(diffs) == 3
    assert diffs[0] < 1e-4 and diffs[1] < 1e-4 and diffs[2] > 1e-3
    # ... and the tutorial's check as it was done, with what its numbers show, computed.
    check = report.convolution_check(0)
    assert "`convolve2d`, which **flips the kernel**" in body and "looks alike" not in body
    if check.tutorial_correlation is not None:
        assert f"**r = {check.tutorial_correlation:+.2f}**" in body
    assert f"the median correlation is **{report.tutorial_median_correlation:+.2f}**" in body

    body = texts(open_tab(at, "Where it looked"))
    assert "untinted: did not raise it" in body and "did not matter" not in body


def test_a_tabs_widgets_keep_their_values_while_it_is_closed():
    """The Export tab reads the convolution check's filter; the check's tab is closed by then."""
    at = open_tab(explorer(), "Is the CNN really convolving?")
    at.slider(key="check_filter").set_value(5).run()
    body = texts(open_tab(at, "Export"))
    assert "the convolution check for filter 5 with its numbers" in body
    open_tab(at, "Is the CNN really convolving?")
    assert at.slider(key="check_filter").value == 5 and "For filter 5 on this photo" in texts(at)


def test_a_filter_silent_on_the_photo_is_named_and_one_that_fires_offered():
    at = open_tab(explorer(), "Is the CNN really convolving?")
    report = shown_report(at)
    firing = report.convolution_check(0).firing
    silent = [k for k in range(32) if k not in firing]
    if not silent:
        pytest.skip("every first-layer filter fires on Chelsea with these weights")
    at.slider(key="check_filter").set_value(silent[0]).run()
    assert_no_exception(at)
    body = texts(at)
    assert f"Filter {silent[0]} never fires on this photo" in body and "silent here, not necessarily dead" in body
    assert f"such as {', '.join(str(i) for i in firing[:5])}" in body


@pytest.mark.slow
def test_layer_explorer_closer_look_and_filter_pickers_rerun_without_errors():
    at = open_tab(explorer(), "Feature maps, layer by layer")
    at.selectbox(key="closer_layer").select("relu_2").run()
    assert_no_exception(at)
    body = texts(at)
    assert "After a ReLU, every negative value has become 0." in body
    heatmap = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "heatmap")
    z = plotly_array(heatmap["data"][0]["z"])
    assert z.shape == (146, 146) and z.min() >= 0

    open_tab(at, "Filters")
    at.selectbox(key="filter_layer").select("conv2d_3").run()
    at.slider(key="filter_channel_conv2d_3").set_value(31).run()
    assert_no_exception(at)
    assert "conv2d_3: the 3 × 3 weights each of its 64 filters applies to input channel 31" in texts(at)
    open_tab(at, "Is the CNN really convolving?")
    at.slider(key="check_filter").set_value(5).run()
    assert_no_exception(at)
    body = texts(at)
    assert len(re.findall(r"max \|difference\| = ", body)) == 3
    assert "Filter 5 never fires" not in body or 5 not in shown_report(at).convolution_check(0).firing


@pytest.mark.slow
def test_layer_explorer_pixel_view_shows_the_numbers_of_the_photo():
    from cnnviz_app.common import chelsea

    at = explorer()  # the first tab, open for a first visitor
    photo = chelsea()
    h, w = photo.original.shape[:2]
    at.slider(key=f"pixel_row_False_{h}").set_value(10)
    at.slider(key=f"pixel_col_False_{w}").set_value(20).run()
    assert_no_exception(at)
    assert "row 10, column 20" in texts(at)
    assert "Rows 10-17, columns 20-27: each pixel's red, green and blue" in texts(at)  # the numbers' picture (test_pictures)
    assert not plotly_specs(at), "the first view draws no chart: a chart's script costs every browser a second"
    open_tab(at, "Filters")
    assert "row 10, column 20" in texts(open_tab(at, next(iter(TABS))))  # kept while its tab was closed

    at.radio(key="pixel_source").set_value(at.radio(key="pixel_source").options[1]).run()
    assert_no_exception(at)
    assert re.search(r"Rows \d+-\d+, columns \d+-\d+: each pixel's red, green and blue", texts(at))


@pytest.mark.slow
def test_step_through_shows_the_arithmetic_of_the_chosen_pixel_and_next_moves_the_window():
    from cnnviz.inspect import activations, conv_filters
    from cnnviz.stepthrough import conv_step, pool_step
    from cnnviz_app.common import chelsea

    model, _ = shipped()
    image = chelsea().network_input
    acts = activations(model, image)
    kernel, bias = conv_filters(model)["conv2d_1"]

    at = open_tab(explorer(), "Step through a convolution")
    at.number_input(key="step_filter").set_value(5)
    at.slider(key="step_row").set_value(70)
    at.slider(key="step_col").set_value(33).run()
    assert_no_exception(at)
    step = conv_step(image, kernel, bias, 5, 70, 33)
    body = texts(at)
    assert f"sum of the 27 products = **{step.total:+.4f}**" in body
    assert f"ReLU: max(0, {step.pre_activation:.4f}) = **{step.output:.4f}**" in body
    assert f"The network's own value there: **{acts['relu_1'][70, 33, 5]:.4f}**" in body
    products = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "heatmap" and len(s["data"]) == 3)
    shown = np.stack([plotly_array(trace["z"]) for trace in products["data"]], axis=-1)
    assert np.allclose(shown, step.products, atol=1e-6)

    next(b for b in at.button if b.label == "Next").click().run()
    assert at.slider(key="step_col").value == 34
    assert "rows 70–72, columns 34–36" in texts(at)
    at.toggle(key="step_play").set_value(True).run()  # Play moves on one position every run
    assert_no_exception(at)
    assert at.slider(key="step_col").value == 35
    at.toggle(key="step_play").set_value(False).run()

    at.number_input(key="pool_channel").set_value(3)
    at.slider(key="pool_row").set_value(10)
    at.slider(key="pool_col").set_value(20).run()
    pooled = pool_step(acts["relu_2"][:, :, 3], 10, 20)
    assert pooled.output == pytest.approx(float(acts["max_pooling2d_1"][10, 20, 3]), abs=1e-6)
    assert f"= **{pooled.output:.4f}**, found at row {pooled.argmax[0]}, column {pooled.argmax[1]}" in texts(at)

    # Another tab and back: the window is where the visitor left it.
    open_tab(at, "Filters")
    open_tab(at, "Step through a convolution")
    assert (at.slider(key="step_row").value, at.slider(key="step_col").value) == (70, 35)


@pytest.mark.slow
def test_where_it_looked_shows_both_grad_cams_and_the_saliency_with_the_librarys_probability():
    from cnnviz.explain import explain
    from cnnviz_app.common import chelsea

    model, _ = shipped()
    expected = explain(model, chelsea().network_input)
    at = open_tab(explorer(), "Where it looked")
    body = texts(at)
    p = expected.dog_probability
    assert f"Grad-CAM for **dog** (P(dog) = {p:.3f})" in body
    assert f"Grad-CAM for **cat** (1 − P(dog) = {1 - p:.3f})" in body
    assert "Saliency, for dog and for cat alike" in body
    shown = shown_report(at).explanation
    assert np.array_equal(shown.grad_cams["dog"].heatmap, expected.grad_cams["dog"].heatmap)
    names = [b.proto.label for b in at.get("download_button")]
    assert names.count("PNG") >= 3


@pytest.mark.slow
def test_export_tab_offers_every_figure_and_the_workshop_pack():
    from cnnviz.export import image_figures
    from cnnviz.maximise import filter_unit
    from cnnviz.report import photo_report
    from cnnviz_app.common import chelsea, describe_card

    model, card = shipped()
    at = open_tab(explorer(), "Export")
    assert "export_figure" not in [s.key for s in at.selectbox]  # drawn only when asked
    at.button(key="export_prepare").click().run()
    assert_no_exception(at)
    report = photo_report(model, chelsea())
    unit = filter_unit(model, "conv2d_1", report.strongest_filter("conv2d_1"))  # what the tab shows first
    expected = image_figures(report, describe_card(card), unit=unit)
    figure = at.selectbox(key="export_figure")
    assert figure.options == [name for name in expected if name.endswith(".png")]
    assert "04-feature-maps/07-relu_3.png" in figure.options
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the workshop pack" in labels and "Download this PNG" in labels
    assert f"One zip of {len(expected)} files" in texts(at)
    shown = next(iter(at.session_state["_export_memo"].values()))
    assert shown["03-verdict.txt"] == expected["03-verdict.txt"]


# --- occlusion and fooling it -------------------------------------------------------------------


@pytest.mark.slow
def test_occlusion_shows_the_map_beside_grad_cam_with_the_librarys_drop_and_agreement():
    from cnnviz.explain import explain
    from cnnviz.occlusion import agreement, agreement_meaning, occlusion
    from cnnviz_app.common import chelsea

    model, _ = shipped()
    image = chelsea().network_input
    at = open_tab(explorer(), "Occlusion")
    label = shown_report(at).verdict.label
    expected = occlusion(model, image, label)
    agree = agreement(expected, explain(model, image).grad_cams[label].heatmap)
    drop, top, left = expected.largest_drop
    body = texts(at)
    assert f"Red marks where hiding lowered P({label})" in body and "7 × 7 = 49 places, 20 pixels apart" in body
    assert f"hiding the square at x {left}, y {top} lowers P({label}) most, by {drop:.3f}" in body and f"**Grad-CAM for {label}**" in body
    assert [m.value for m in at.metric] == ["none" if agree is None else f"{agree:+.2f}"]
    assert agreement_meaning(agree) in body and "not where the animal is" in body


@pytest.mark.slow
def test_fool_it_starts_at_the_smallest_flipping_epsilon_and_half_of_it_keeps_the_verdict():
    from cnnviz.adversarial import attack_direction, fool, flip_words, random_direction, smallest_flip
    from cnnviz.inspect import score_words
    from cnnviz_app.common import chelsea
    from cnnviz_app.explorer_tabs import EPSILON_STEP, _fool_key

    model, _ = shipped()
    image = chelsea().network_input
    at = open_tab(explorer(), "Fool it")
    report = shown_report(at)
    before = report.verdict
    direction = attack_direction(model, image, before.label)
    epsilon = smallest_flip(model, image, direction, before)
    body = texts(at)
    assert f"On this photo, **{flip_words(before, epsilon)}**." in body
    slider = at.slider(key=_fool_key(report))
    assert epsilon <= slider.value < epsilon + EPSILON_STEP + 1e-9  # rounded up to the slider's step
    after = fool(model, image, slider.value, direction, before).after
    assert f"**After: {after.label}** (flipped)" in body and score_words(after) in body and after.label != before.label
    noise = fool(model, image, slider.value, random_direction(image.shape), before).after
    assert f"random directions (each value moved +ε or −ε at random): **{noise.label}** ({score_words(noise)})" in body

    half = round(epsilon / 2, 4)
    at.slider(key=_fool_key(report)).set_value(half).run()
    assert_no_exception(at)
    body = texts(at)
    kept = fool(model, image, half, direction, before).after
    assert kept.label == before.label and f"**After: {before.label}**  \n{score_words(kept)}" in body and "(flipped)" not in body
    # The export's fooled photo is the slider's.
    assert f"the Fool it tab's ε = {half:.5f}" in texts(open_tab(at, "Export"))


# --- what a filter looks for -----------------------------------------------------------------------


@pytest.mark.slow
def test_what_a_filter_looks_for_shows_the_made_input_beside_the_strongest_unseen_patches(monkeypatch, tiny_kaggle):
    from cnnviz import maximise
    from cnnviz.dataset import find_dataset, unseen

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    model, _ = shipped()
    at = open_tab(explorer(), "What a filter looks for")
    report = shown_report(at)
    k = report.strongest_filter("conv2d_1")
    assert at.number_input(key="looks_filter_conv2d_1").value == k, "the first convolution's strongest filter on the photo"
    unit = maximise.filter_unit(model, "conv2d_1", k)
    made = maximise.made_input(model, unit)
    split = at.session_state["split"]
    photos = maximise.photo_sample(unseen(split.val, find_dataset(tiny_kaggle).root, seen_by_the_shipped_weights())[0])
    patches = maximise.top_patches(model, unit, photos)
    body = texts(at)
    assert f"**Made for conv2d_1's filter {k}**: its strongest value **{made.activation:.2f}**, from {made.start:.2f}" in body
    assert "red frame: the 3 × 3 pixels its strongest value sees" in body
    assert f"**The 9 patches of {patches.searched} validation photos that excite it most** (photos these weights were not trained on)" in body
    captions = [c for image in at.image for c in image.captions]
    shown = [c for c in captions if c.endswith(tuple(f": {p.activation:.2f}" for p in patches.patches))]
    assert shown == [f"{p.name}: {p.activation:.2f}" for p in patches.patches]
    assert made.activation > patches.patches[0].activation, "the made input excites its filter more than any photo patch"
    assert maximise.MEANING in body

    at.selectbox(key="looks_layer").set_value("the dog output").run()
    assert_no_exception(at)
    dog = maximise.made_input(model, maximise.output_unit(model, "dog"))
    assert f"**Made for the dog output (+z)**: its strongest value **{dog.activation:.2f}**" in texts(at)
    assert "the output unit sees the whole photo" in texts(at)
    assert "what the dog output (+z) looks for" in texts(open_tab(at, "Export"))


# --- the camera ----------------------------------------------------------------------------------


def test_the_camera_takes_a_real_jpeg_and_refuses_a_broken_one_with_one_message(cat_photo):
    from cnnviz.inspect import classify

    data = cat_photo.read_bytes()
    expected = load_photo(data)
    at = explorer()
    at.radio(key="photo_source").set_value("Camera").run()
    assert "Allow the browser to use the camera, then take a photo." in texts(at) and "Verdict:" not in texts(at)
    at.camera_input[0].set_value(("shot.jpg", data[: len(data) // 2], "image/jpeg")).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == ["The camera's picture could not be read: take another one, or upload a photo instead."]
    assert "Verdict:" not in texts(at)
    at.camera_input[0].set_value(("shot.jpg", data, "image/jpeg")).run()
    assert_no_exception(at)
    h, w = expected.original.shape[:2]
    body = texts(at)
    assert not at.error and f"Camera photo: {w} × {h} pixels, JPEG" in body
    verdict = classify(shipped()[0], expected.network_input)
    assert f"P(dog) = {verdict.dog_probability:.3f}" in body


# --- which photo: samples, validation images, and the weights used ---------------------------


@pytest.mark.slow
def test_layer_explorer_offers_dataset_samples_and_validation_images(monkeypatch, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = explorer()
    samples = at.selectbox(key="sample_name").options
    assert samples[0].startswith("Chelsea") and len(samples) == 7
    dog = next(s for s in samples if "(a dog" in s)
    at.selectbox(key="sample_name").select(dog).run()
    assert_no_exception(at)
    assert "The photo is labelled **dog**" in texts(at)

    assert "Validation image" in at.radio(key="photo_source").options
    at.radio(key="photo_source").set_value("Validation image").run()
    split = at.session_state["split"]
    at.number_input(key="val_index").set_value(len(split.val) - 1).run()
    assert_no_exception(at)
    path, label = split.val[-1]
    body = texts(at)
    assert Path(path).name in body and f"labelled **{('cat', 'dog')[label]}**" in body


def test_without_a_dataset_the_explorer_has_no_validation_source():
    at = explorer()
    assert at.radio(key="photo_source").options == ["Sample photos", "Upload a photo"]
    assert at.selectbox(key="sample_name").options == ["Chelsea the cat (scikit-image)"]


@pytest.mark.slow
def test_a_session_model_is_used_and_named_and_the_shipped_one_is_untouched():
    from cnnviz.model import copy_model

    from cnnviz_app.common import shipped_model

    shared, _ = shipped_model()
    before = [w.copy() for w in shared.get_weights()]
    mine = copy_model(shared)
    weights = mine.get_weights()
    weights[-1] = weights[-1] + 5.0  # the output bias: this model says "dog" to everything
    mine.set_weights(weights)

    at = explorer(session=SessionModel(mine, "after epoch 1", own=True))
    body = texts(at)
    assert "this session's own model (after epoch 1)" in body
    assert "Verdict: **dog**" in body
    at.radio(key="weights_choice").set_value("shipped").run()
    assert_no_exception(at)
    assert "this session's own model" not in texts(at)
    assert all(np.array_equal(a, b) for a, b in zip(before, shared.get_weights()))


@pytest.mark.slow
def test_the_explorer_says_when_the_weights_were_trained_on_the_photo_shown(partly_seen_folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(partly_seen_folder, 16_000, 6_400)
    names = [path.rsplit("/", 1)[-1] for path, _ in split.val]
    learned, fresh = next(i for i, n in enumerate(names) if n in seen), next(i for i, n in enumerate(names) if n not in seen)
    note = "These weights were trained on this photo, so a right verdict here is no test of them."

    at = open_page("cnnviz_app/pages/layer_explorer.py")
    at.radio(key="photo_source").set_value("Validation image").run()
    at.number_input(key="val_index").set_value(learned).run()
    assert_no_exception(at)
    assert names[learned] in texts(at) and note in texts(at)
    at.number_input(key="val_index").set_value(fresh).run()
    assert names[fresh] in texts(at) and note not in texts(at)


# --- uploads ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_upload_of_a_real_photo_goes_through_every_layer(cat_photo):
    data = cat_photo.read_bytes()
    expected = load_photo(data, name=cat_photo.name)
    at = explorer()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    assert "Choose a photo above" in texts(at)
    at.file_uploader[0].set_value((cat_photo.name, data, "image/jpeg")).run()
    assert_no_exception(at)
    assert not at.error
    body = texts(open_tab(at, "Feature maps, layer by layer"))
    h, w = expected.original.shape[:2]
    assert f"{cat_photo.name}: {w} × {h} pixels, JPEG" in body
    assert "Verdict:" in body and "conv2d_3 · convolution · 71×71×64" in body


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, data",
    [
        ("notes.jpg", b"these are not the pixels you are looking for"),
        ("empty.png", b""),
        ("cut.jpg", None),  # the real photo, cut in half
    ],
)
def test_a_bad_upload_shows_exactly_one_error_and_nothing_else_breaks(name, data, cat_photo):
    if data is None:
        whole = cat_photo.read_bytes()
        data = whole[: len(whole) // 2]
    with pytest.raises(CnnvizError) as refused:
        load_photo(data, name=name)
    at = explorer()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    at.file_uploader[0].set_value((name, data, "image/jpeg")).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [str(refused.value)]
    assert "Verdict:" not in texts(at)
    # Switching back to the samples brings the whole page back.
    at.radio(key="photo_source").set_value("Sample photos").run()
    assert_no_exception(at)
    assert not at.error and "Verdict:" in texts(at)


def test_photo_from_upload_reads_real_bytes_and_refuses_others(cat_photo):
    from cnnviz_app.common import photo_from_upload

    data = cat_photo.read_bytes()
    photo = photo_from_upload(SimpleNamespace(name=cat_photo.name, getvalue=lambda: data))
    assert photo.network_input.shape == (150, 150, 3) and photo.format == "JPEG"
    assert np.array_equal(photo.original, load_photo(cat_photo).original)
    with pytest.raises(CnnvizError, match="x.gif"):
        photo_from_upload(SimpleNamespace(name="x.gif", getvalue=lambda: b"GIF89a broken"))


# --- every odd upload, one after another in one session -------------------------------------


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def striped(size=(60, 40)) -> Image.Image:
    image = Image.new("RGB", size, (30, 60, 200))
    image.paste((220, 40, 30), (0, 0, size[0] // 2, size[1] // 3))
    return image


def exif_rotated() -> bytes:
    """Stored 60 wide and 40 tall, with the EXIF turn a phone held upright writes (6: 90° clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(striped(), "JPEG", exif=exif, quality=95)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 24), c) for c in ((250, 0, 0), (0, 0, 250), (0, 250, 0))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


def sixteen_bit() -> bytes:
    return encode(Image.fromarray(__import__("numpy").linspace(0, 65535, 48 * 32).reshape(32, 48).astype("uint16")), "PNG")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb."""
    data = bytearray(encode(Image.new("RGB", (4, 4), "red"), "PNG"))
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


# name as uploaded, bytes, what the caption must say: "W × H pixels, FORMAT" (upright sizes)
ACCEPTED = {
    "cmyk": ("print.jpg", lambda: encode(striped().convert("CMYK"), "JPEG"), "60 × 40 pixels, JPEG"),
    "grayscale": ("gray.png", lambda: encode(striped().convert("L"), "PNG"), "60 × 40 pixels, PNG"),
    "16-bit": ("scan16.png", sixteen_bit, "48 × 32 pixels, PNG"),
    "palette": ("palette.gif", lambda: encode(striped().convert("P"), "GIF"), "60 × 40 pixels, GIF"),
    "alpha": ("logo.png", lambda: encode(striped().convert("RGBA"), "PNG"), "60 × 40 pixels, PNG"),
    "animated gif": ("wag.gif", animated_gif, "32 × 24 pixels, GIF"),
    "exif-rotated": ("phone.jpg", exif_rotated, "40 × 60 pixels, JPEG"),  # turned upright
    "webp": ("web.webp", lambda: encode(striped(), "WEBP"), "60 × 40 pixels, WEBP"),
    "bmp named .jpg": ("really-a-bitmap.jpg", lambda: encode(striped(), "BMP"), "60 × 40 pixels, BMP"),
    "1x1": ("dot.png", lambda: encode(Image.new("RGB", (1, 1), "white"), "PNG"), "1 × 1 pixels, PNG"),
    "very tall": ("tall.png", lambda: encode(Image.new("RGB", (12, 6000), "gray"), "PNG"), "12 × 6000 pixels, PNG"),
}


# name as uploaded (extensions the uploader accepts), bytes, words the one error must hold
REFUSED = {
    "empty": ("empty.jpg", lambda: b"", "is empty"),
    "text": ("notes.png", lambda: b"Dear attendees,\nthe slides are online.\n" * 10, "is not an image"),
    "truncated": ("cut.jpg", lambda: encode(striped((400, 300)), "JPEG")[:1500], "truncated"),
    "bomb": ("bomb.png", lambda: png_claiming(50_000, 50_000), "too many pixels to open safely"),
    "heic": ("iphone.jpg", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "a HEIC image"),
    "svg": ("vector.png", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "an SVG"),
    "pdf": ("flyer.jpg", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
    "over 25 MB": ("huge.jpg", lambda: b"\xff\xd8\xff" + bytes(MAX_BYTES), "larger than 25 MB"),
}


def messages_and_captions(at: AppTest) -> str:
    """What the page says in markdown and messages, and its images' captions (not its titles)."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error") for e in getattr(at, kind)]
    parts += [c for image in at.image for c in image.captions]
    return "\n".join(parts)


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def session():
    """One Layer Explorer session, switched to uploads, shared by every case in order."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    assert not at.exception
    return at


@pytest.mark.slow
@pytest.mark.parametrize("case", list(ACCEPTED) + list(REFUSED))
def test_every_listed_upload_in_one_session(session, case):
    """Accepted and refused files alternate in one session: a refusal never breaks the next upload."""
    at = session
    if case in ACCEPTED:
        name, make, shown = ACCEPTED[case]
        load_photo(make(), name=name)  # the library accepts it too
        upload(at, name, make())
        assert not at.error, [e.value for e in at.error]
        body = messages_and_captions(at)
        assert f"{name}: {shown}" in body
        assert "### Verdict:" in body
    else:
        name, make, words = REFUSED[case]
        with pytest.raises(CnnvizError) as refused:
            load_photo(make(), name=name)
        upload(at, name, make())
        assert [e.value for e in at.error] == [str(refused.value)]
        assert words in at.error[0].value and f"'{name}'" in at.error[0].value
        assert "Verdict:" not in messages_and_captions(at)


def test_a_refused_upload_then_a_good_one_in_a_fresh_session():
    """The short version for every run: refusal, then a real photo, in one session."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    name, make, words = REFUSED["bomb"]
    upload(at, name, make())
    assert len(at.error) == 1 and words in at.error[0].value
    name, make, shown = ACCEPTED["exif-rotated"]
    upload(at, name, make())
    assert not at.error and f"{name}: {shown}" in messages_and_captions(at) and "### Verdict:" in messages_and_captions(at)


def test_the_upload_limit_in_config_matches_the_librarys():
    """.streamlit/config.toml's maxUploadSize (MB) is cnnviz.images.MAX_BYTES: the browser
    refuses what load_photo would refuse anyway, before sending it."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_BYTES
    assert config["server"]["address"] == "127.0.0.1"  # a LAN is opened on purpose, never by default
    assert MAX_PIXELS == 40_000_000


def test_the_uploader_takes_every_extension_the_accepted_cases_use():
    extensions = {Path(name).suffix.lstrip(".") for name, _, _ in list(ACCEPTED.values()) + list(REFUSED.values())}
    assert extensions <= set(UPLOAD_TYPES)
