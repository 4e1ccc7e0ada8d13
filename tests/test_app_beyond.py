"""The app's views beyond the tutorial under streamlit.testing: where the network looked, the
evaluation page, the step-through convolution, exports and presenter mode. Expected numbers
come from cnnviz itself, for the same model and photo the page uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnviz.session import SessionModel
from tests.test_app_pages import _isolated, assert_no_exception, open_page, plotly_array, plotly_specs, shipped, texts  # noqa: F401


def test_where_it_looked_shows_both_grad_cams_and_the_saliency_with_the_librarys_probability():
    from cnnviz.explain import explain
    from cnnviz_app.common import chelsea

    model, _ = shipped()
    expected = explain(model, chelsea().network_input)
    at = open_page("cnnviz_app/pages/layer_explorer.py")
    body = texts(at)
    p = expected.dog_probability
    assert f"Grad-CAM for **dog** (P(dog) = {p:.3f})" in body
    assert f"Grad-CAM for **cat** (1 − P(dog) = {1 - p:.3f})" in body
    assert "Saliency, for dog and for cat alike" in body
    shown = next(iter(at.session_state["_memo"].values())).explanation
    assert np.array_equal(shown.grad_cams["dog"].heatmap, expected.grad_cams["dog"].heatmap)
    names = [b.proto.label for b in at.get("download_button")]
    assert names.count("PNG") >= 3


# --- evaluation ------------------------------------------------------------------------------


def dog_sayer():
    """A copy of the shipped network whose output bias says "dog" to every photo, surely."""
    from cnnviz.model import copy_model

    model = copy_model(shipped()[0])
    weights = model.get_weights()
    weights[-1] = weights[-1] + 5.0
    model.set_weights(weights)
    return model


def test_evaluation_page_numbers_are_the_librarys_and_a_wrong_photo_opens_in_the_explorer(monkeypatch, tiny_kaggle):
    from cnnviz.evaluation import confidently_wrong, evaluate_items, sample_items

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    model = dog_sayer()
    at = open_page("cnnviz_app/pages/evaluation.py", session=SessionModel(model, "says dog", own=True))
    split = at.session_state["split"]
    expected = evaluate_items(model, sample_items(split.val, len(split.val), seed=split.seed))
    body = texts(at)
    assert at.metric[0].value == f"{expected.accuracy:.1%}"
    assert f"**{int(np.trace(expected.confusion))}** of **{expected.n}** validation photos judged right" in body
    confusion, histogram = plotly_specs(at)
    assert plotly_array(confusion["data"][0]["customdata"]).tolist() == expected.confusion.tolist()
    assert sorted(plotly_array(histogram["data"][1]["x"])) == pytest.approx(sorted(expected.dog_probabilities[expected.labels == 1]))

    # Every cat is called a dog: the gallery shows the surest of them, each with its P(dog).
    wrong = confidently_wrong(expected, 8)
    assert len(wrong) == min(8, int((expected.labels == 0).sum()))
    first_path, _ = expected.items[wrong[0]]
    assert f"A **cat**, called **dog**: P(dog) = {expected.dog_probabilities[wrong[0]]:.3f}" in body
    opens = [b for b in at.button if b.label == "Open in Layer Explorer"]
    assert len(opens) == len(wrong)
    opens[0].click().run()
    assert_no_exception(at)
    body = texts(at)
    assert "Layer Explorer" in [t.value for t in at.title]
    assert Path(first_path).name in body and "labelled **cat**" in body and "Verdict: **dog**" in body


# --- step-through convolution --------------------------------------------------------------------


def test_step_through_shows_the_arithmetic_of_the_chosen_pixel_and_next_moves_the_window():
    from cnnviz.inspect import activations, conv_filters
    from cnnviz.stepthrough import conv_step, pool_step
    from cnnviz_app.common import chelsea

    model, _ = shipped()
    image = chelsea().network_input
    acts = activations(model, image)
    kernel, bias = conv_filters(model)["conv2d_1"]

    at = open_page("cnnviz_app/pages/layer_explorer.py")
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


# --- export ---------------------------------------------------------------------------------------


def test_export_tab_offers_every_figure_and_the_workshop_pack():
    from cnnviz.export import image_figures
    from cnnviz.report import photo_report
    from cnnviz_app.common import chelsea, describe_card

    model, card = shipped()
    at = open_page("cnnviz_app/pages/layer_explorer.py")
    assert "export_figure" not in [s.key for s in at.selectbox]  # drawn only when asked
    at.button(key="export_prepare").click().run()
    assert_no_exception(at)
    expected = image_figures(photo_report(model, chelsea()), describe_card(card))
    figure = at.selectbox(key="export_figure")
    assert figure.options == [name for name in expected if name.endswith(".png")]
    assert "04-feature-maps/07-relu_3.png" in figure.options
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the workshop pack" in labels and "Download this PNG" in labels
    assert f"One zip of {len(expected)} files" in texts(at)
    shown = next(iter(at.session_state["_export_memo"].values()))
    assert shown["03-verdict.txt"] == expected["03-verdict.txt"]


def test_evaluation_and_training_pages_offer_their_pngs_and_the_models_card(monkeypatch, tmp_path, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    at = open_page("cnnviz_app/pages/evaluation.py")
    assert [b.proto.label for b in at.get("download_button")] == ["PNG", "PNG"]

    at.switch_page("cnnviz_app/pages/training.py").run()
    at.text_input(key="training_save_name").input("export-test")
    at.button(key="training_save").click().run()
    assert_no_exception(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download export-test.weights.h5" in labels and "Download its card export-test.card.json" in labels
    assert (tmp_path / "saved" / "export-test.card.json").is_file()


# --- learning over time ---------------------------------------------------------------------------


def test_training_page_shows_how_the_first_layer_moved_after_a_real_epoch(monkeypatch, tmp_path, tiny_kaggle):
    from cnnviz.dataset import find_dataset
    from cnnviz.split import split_dataset
    from cnnviz.timeline import movement

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    dataset = find_dataset(str(tiny_kaggle))
    session = SessionModel.untrained()
    job = session.start_epoch(split_dataset(dataset, 32, 8, 13), dataset, batch_size=16)
    assert job.join(300) and session.record()

    at = open_page("cnnviz_app/pages/training.py", session=session)
    body = texts(at)
    moves = movement(session.snapshots())
    top = int(moves[-1].argmax())
    assert "How the first layer learned" in body
    assert f"In the last epoch filter {top} moved most ({moves[-1, top]:.4f})" in body
    assert "start" in body and "epoch 1" in body and "filter 0 on Chelsea" in body
    lines = next(s for s in plotly_specs(at) if len(s["data"]) == 32)
    assert plotly_array(lines["data"][top]["y"]).tolist() == pytest.approx(moves[:, top].tolist())
    at.number_input(key="timeline_filter").set_value(7).run()
    assert_no_exception(at)
    assert "filter 7 on Chelsea" in texts(at)


# --- presenter mode ---------------------------------------------------------------------------------


def test_presenter_mode_steps_through_the_tutorial_with_live_numbers(monkeypatch, tiny_kaggle):
    from cnnviz.inspect import classify, convolution_check
    from cnnviz_app.common import chelsea

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    model, _ = shipped()
    # The screens as streamlit_app.py shows them while the toggle is on. (AppTest reruns only
    # the open page after the first run, not the entry script with the toggle; the browser
    # test switches presenter mode on and off with the real toggle.)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("from cnnviz_app.presenter import show\n\nshow()", default_timeout=120).run()
    assert_no_exception(at)
    titles = []
    for i in range(8):
        if i:
            at.button(key="presenter_next").click().run()
            assert_no_exception(at)
        titles.append(at.title[0].value)
        body = texts(at)
        if titles[-1].startswith("1."):
            assert "**24** cats and **24** dogs" in body
        if titles[-1].startswith("4."):
            assert "**5,046,369** parameters" in body and "**99.4%**" in body
        if titles[-1].startswith("6."):
            v = classify(model, chelsea().network_input)
            assert f"P(dog) = **{v.dog_probability:.3f}**" in body and f"**{v.label}**" in body
        if titles[-1].startswith("8."):
            check = convolution_check(model, chelsea().network_input, 0)
            for d in check.max_abs_difference.values():
                assert f"max difference {d:.1g}" in body
    assert [t.split(".")[0] for t in titles] == [str(i) for i in range(1, 9)]
    assert at.button(key="presenter_next").disabled and at.title[0].value == titles[-1]
    at.button(key="presenter_prev").click().run()
    assert at.title[0].value == titles[-2]
