"""The Evaluation page under streamlit.testing: its numbers are the library's for the session's
model, a confidently wrong photo opens in the Layer Explorer, the shipped weights are judged
only on photos they never trained on, each cell of the confusion matrix opens exactly its
photos, and the network's map places the judged photos, a click on one opening it in the
Layer Explorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnnviz.dataset import unseen
from cnnviz.session import SessionModel
from tests.app.helpers import (
    assert_no_exception,
    open_page,
    plotly_array,
    plotly_chart,
    select_points,
    seen_by_the_shipped_weights,
    shipped,
    split_of,
    texts,
)


def spec(at, key: str) -> dict:
    return json.loads(plotly_chart(at, key).proto.spec)


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
    low, high = expected.interval  # the sampling uncertainty, from the same judged photos
    assert f"95% interval: **{low:.1%} to {high:.1%}**" in body and low < expected.accuracy < high
    confusion, histogram = (spec(at, key) for key in ("eval_confusion", "eval_histogram"))
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


@pytest.mark.slow
def test_evaluation_judges_the_shipped_weights_only_on_photos_they_never_trained_on(partly_seen_folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(partly_seen_folder, 16_000, 6_400)  # the app's default split, scaled down to the folder
    kept, left_out = unseen(split.val, partly_seen_folder, seen)
    assert 0 < left_out < len(split.val)  # the case this is about: some of each

    at = open_page("cnnviz_app/pages/evaluation.py")
    body = texts(at)
    assert f"{left_out:,} of this split's {len(split.val):,} validation photos are left out: these weights' card lists them" in body
    assert at.number_input(key="eval_n").label == f"Validation photos to judge (of {len(kept):,})"
    assert f"of **{len(kept)}** validation photos judged right" in body


def mixed_verdicts(items):
    """A copy of the shipped network whose output bias is moved so that its verdicts on `items`
    fill all four cells of the confusion matrix: half way between the surest cat's logit and
    the least sure dog's, which overlap for any network on enough photos."""
    from cnnviz.evaluation import evaluate_items
    from cnnviz.model import copy_model

    model = copy_model(shipped()[0])
    judged = evaluate_items(model, items)
    logits = np.log(judged.dog_probabilities) - np.log1p(-judged.dog_probabilities)
    top_cat, bottom_dog = logits[judged.labels == 0].max(), logits[judged.labels == 1].min()
    assert top_cat > bottom_dog, "the shipped weights split these photos cleanly: no bias fills all four cells"
    weights = model.get_weights()
    weights[-1] = weights[-1] - (top_cat + bottom_dog) / 2
    model.set_weights(weights)
    return model


def map_points(at, key: str = "eval_map") -> dict[str, dict]:
    """Each photo on the map by name: its trace's name and the customdata a click on it sends."""
    return {
        name: {"trace": trace["name"], "customdata": list(data)}
        for trace in spec(at, key)["data"]
        if trace.get("customdata") is not None  # a trace with no photos (no cat called a dog, say)
        for name, data in zip(trace["text"], plotly_array(trace["customdata"]).tolist())
    }


def test_the_map_places_the_judged_photos_and_a_click_opens_one_in_the_explorer(monkeypatch, tiny_kaggle):
    from cnnviz.evaluation import evaluate_items, sample_items

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/evaluation.py")  # the shipped weights
    split = at.session_state["split"]
    kept, _ = unseen(split.val, tiny_kaggle, seen_by_the_shipped_weights())
    expected = evaluate_items(shipped()[0], sample_items(kept, len(kept), seed=split.seed))
    names = [Path(path).name for path, _ in expected.items]
    wrong = {name for name, said, label in zip(names, expected.predictions, expected.labels) if said != label}

    points = map_points(at)
    assert sorted(points) == sorted(names)  # every judged photo, once
    assert {name for name, point in points.items() if point["trace"].endswith("verdict wrong")} == wrong
    for name, (_, label) in zip(names, expected.items):
        assert points[name]["trace"].startswith(f"true {('cat', 'dog')[label]}s")
    body = texts(at)
    assert f"Each dot is one of these {len(names)} validation photos, placed by the 64 numbers" in body
    assert "nearest neighbour of the same class" in [m.label for m in at.metric]
    assert "PCA 1 (" in spec(at, "eval_map")["layout"]["xaxis"]["title"]["text"]
    at.radio(key="eval_map_method").set_value("tsne").run()
    assert_no_exception(at)
    assert spec(at, "eval_map")["layout"]["xaxis"]["title"]["text"] == "t-SNE (the axes mean nothing)"
    assert sorted(map_points(at)) == sorted(names)

    # A box around three dots shows their photos beside the map, each one click from the Explorer.
    boxed = names[:3]
    select_points(at, "eval_map", [points[name]["customdata"] for name in boxed], boxed=True)
    assert_no_exception(at)
    assert "**3 photos in your selection**" in texts(at)
    assert [b.key.rsplit("/", 1)[-1] for b in at.button if b.key.startswith("eval_map_pick_")] == boxed

    # One click on a dot opens that photo in the Layer Explorer.
    clicked = sorted(wrong)[0] if wrong else names[0]
    select_points(at, "eval_map", [points[clicked]["customdata"]])
    assert_no_exception(at)
    assert "Layer Explorer" in [t.value for t in at.title]
    assert split.val[at.session_state["val_index"]][0].endswith(clicked) and clicked in texts(at)


@pytest.mark.slow
def test_the_map_shows_a_session_model_of_the_modern_network(monkeypatch, tiny_kaggle):
    from cnnviz.architecture import MODERN
    from cnnviz.model import build_network

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/evaluation.py", session=SessionModel(build_network(MODERN), "modern, random", own=True))
    split = at.session_state["split"]
    body = texts(at)
    assert f"Each dot is one of these {len(split.val)} validation photos, placed by the 256 numbers" in body
    assert "This is this session's model after its latest epoch" in body
    assert sorted(map_points(at)) == sorted(Path(path).name for path, _ in split.val)


@pytest.mark.slow
def test_each_confusion_cell_lists_exactly_the_photos_the_evaluation_put_there(monkeypatch, tiny_kaggle):
    from cnnviz.evaluation import evaluate_items, sample_items
    from cnnviz.split import split_dataset
    from cnnviz.dataset import find_dataset

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    split = split_dataset(find_dataset(tiny_kaggle), 16_000, 6_400, seed=13)  # the page's default split
    items = sample_items(split.val, len(split.val), seed=split.seed)
    model = mixed_verdicts(items)
    at = open_page("cnnviz_app/pages/evaluation.py", session=SessionModel(model, "mixed verdicts", own=True))
    p = evaluate_items(model, items).dog_probabilities
    cells = {tuple(int(v) for v in data[:2]): list(data) for data in plotly_array(spec(at, "eval_confusion")["data"][1]["customdata"]).tolist()}
    assert sorted(cells) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for (true, said), data in cells.items():
        # recomputed here from each photo's P(dog) and the rule "dog when P(dog) > 0.5"
        inside = {path for (path, label), dog in zip(items, p) if label == true and int(dog > 0.5) == said}
        assert inside and data[2] == len(inside)
        select_points(at, "eval_confusion", [data])
        assert_no_exception(at)
        prefix = f"eval_cell_{true}{said}_"
        assert {b.key[len(prefix):] for b in at.button if b.key and b.key.startswith(prefix)} == inside
        names = ("cat", "dog")
        assert f"{names[true].capitalize()}s called {names[said]}s: {len(inside)} photo" in [h.value for h in at.subheader][0]

    first = next(b for b in at.button if b.key and b.key.startswith("eval_cell_11_"))
    first.click().run()
    assert_no_exception(at)
    assert "Layer Explorer" in [t.value for t in at.title]
    assert split.val[at.session_state["val_index"]][0] == first.key[len("eval_cell_11_"):]


@pytest.mark.slow
def test_a_full_cell_shows_its_photos_a_page_at_a_time(monkeypatch, tmp_path, data_root):
    from cnnviz.evaluation import evaluate_items, sample_items
    from tests.appserver import copy_photos

    folder = copy_photos(data_root / "train", tmp_path / "train", per_class=60)
    monkeypatch.setenv("CNNVIZ_DATA", str(folder))
    model = dog_sayer()
    at = open_page("cnnviz_app/pages/evaluation.py", session=SessionModel(model, "says dog", own=True))
    split = at.session_state["split"]
    items = sample_items(split.val, len(split.val), seed=split.seed)
    p = evaluate_items(model, items).dog_probabilities
    cats = [path for (path, label), dog in sorted(zip(items, p), key=lambda pair: -abs(pair[1] - 0.5)) if label == 0 and dog > 0.5]
    assert len(cats) > 12  # more cats called dogs than a page holds

    select_points(at, "eval_confusion", [[0, 1, len(cats)]])
    listed = lambda: [b.key[len("eval_cell_01_"):] for b in at.button if b.key and b.key.startswith("eval_cell_01_")]  # noqa: E731
    assert listed() == cats[:12]  # the surest verdicts first
    more = next(b for b in at.button if b.key == "eval_cell_more_01")
    assert more.label == f"Show {min(12, len(cats) - 12)} more (of {len(cats) - 12} not shown)"
    more.click().run()
    assert_no_exception(at)
    assert listed() == cats[:24]


def test_the_two_shipped_networks_side_by_side_on_the_same_photos(monkeypatch, tiny_kaggle):
    """One click judges the same photos with both shipped networks; each row carries the library's figures."""
    from cnnviz.evaluation import sample_items
    from cnnviz.side_by_side import side
    from cnnviz_app.common import chelsea, shipped_model

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/evaluation.py")
    assert "The two shipped networks, side by side" in [h.value for h in at.header]
    at.button(key="eval_sides_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[-1].value
    assert list(table["network"].str.split(" ").str[0]) == ["tutorial", "modern"]
    n = int(at.number_input(key="eval_n").value)
    split = at.session_state["split"]
    for row, network in zip(table.to_dict("records"), ("tutorial", "modern")):
        model, _card = shipped_model(network)
        alone = side(model, chelsea(), sample_items(split.val, n, seed=split.seed))  # the tiny folder: no card trained on it
        assert row["parameters"] == f"{alone.parameters:,}"
        assert row["accuracy"].startswith(f"{alone.evaluation.accuracy:.1%}")
        assert row["verdict on the photo"].startswith(alone.verdict.label)
    assert len(at.image) >= 2  # where each looked
