"""The app's pages under streamlit.testing: each renders, shows the library's numbers, and
handles photos (real uploads, broken uploads, samples, validation images) without breaking.

Every page is reached the way a person reaches it: AppTest runs streamlit_app.py (the
navigation) and switches page. Expected numbers come from cnnviz itself, never from here.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.errors import CnnvizError
from cnnviz.images import load_photo
from cnnviz.session import SessionModel

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 120  # the first run imports TensorFlow and builds the network


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No dataset unless a test sets one; scan caches in a temporary folder."""
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))


def open_page(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert_no_exception(at)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, "\n".join(e.value for e in at.exception)


def texts(at: AppTest) -> str:
    """Everything written on the page as text, one element a line."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error", "latex") for e in getattr(at, kind)]
    parts += [p.text for p in at.get("progress")]
    parts += [c for image in at.image for c in image.captions]
    return "\n".join(parts)


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def shipped():
    """The app's own shared model (the shipped weights, or one untrained network per process)."""
    from cnnviz_app.common import shipped_model

    return shipped_model()


def plotly_array(value) -> np.ndarray:
    """A plotly array from a figure's JSON: a list, or a typed array {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


# --- home, architecture ----------------------------------------------------------------------


def test_home_says_what_the_app_teaches_links_the_pages_and_the_weights_state():
    from cnnviz.model import default_weights_path

    at = open_page()
    body = texts(at)
    assert "How a CNN tells dogs from cats" in body
    links = [link.proto.label for link in at.get("page_link")]
    assert links == ["1. Data", "2. Architecture", "3. Training", "4. Evaluation", "5. Layer Explorer"]
    if default_weights_path() is None:
        assert "Untrained network" in body
    else:
        assert "Untrained network" not in body
    for erratum in ("not scaled", "prediction == 1", "binary", "cross-correlation"):
        assert erratum in body


def test_architecture_shows_the_live_total_every_formula_and_dense_1s_share():
    from cnnviz.model import layer_table

    model, _ = shipped()
    rows = layer_table(model)
    total = model.count_params()
    dense = next(r for r in rows if r.name == "dense_1")

    at = open_page("cnnviz_app/pages/architecture.py")
    body = texts(at)
    assert f"{total:,}" in body and total == 5_046_369
    assert f"**{100 * dense.share:.1f}%**" in body and f"{100 * dense.share:.1f}" == "99.4"

    table = at.dataframe[0].value
    assert list(table["layer"])[:-1] == [r.name for r in rows]
    assert table.iloc[-1]["parameters"] == f"{total:,}"
    by_layer = table.set_index("layer")
    assert by_layer.loc["dense_1", "formula"] == "78,400x64 + 64"
    assert by_layer.loc["conv2d_1", "output shape"] == "148×148×32"
    assert by_layer.loc["dense_1", "share"] == "99.4%"

    flow, share = plotly_specs(at)
    hover = " ".join(flow["data"][0]["hovertext"])
    assert "150×150×3" in hover and "148×148×32" in hover and "output 1 = 1 values" in hover
    bars = dict(zip(share["data"][0]["y"], plotly_array(share["data"][0]["x"])))
    assert bars["dense_1"] == pytest.approx(100 * dense.share)

    assert "binary cross-entropy" in body.lower() and "mean squared error" in body
    assert any(r"\log" in latex.value for latex in at.latex)
    # The dropout text is computed from the layer: rate 0.5 scales survivors by 2.
    assert "1 / (1 − 0.5) = 2" in body


# --- data --------------------------------------------------------------------------------------


def test_data_page_from_env_finds_the_photos_splits_them_and_shows_samples(monkeypatch, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/data.py")
    body = texts(at)
    assert "Found 24 cats, 24 dogs, 0 skipped" in body
    split = at.session_state["split"]
    # 48 photos cannot give the tutorial's 16,000 / 6,400: the split is scaled and says so.
    assert split.note and split.note in body
    assert len(split.train) + len(split.val) <= 48 and not set(split.train) & set(split.val)
    assert at.session_state["dataset"].counts() == {"cat": 24, "dog": 24}

    grid = [image for image in at.image if image.captions and image.captions[0] in ("cat", "dog")]
    assert len(grid) == 12
    balance = plotly_specs(at)[0]
    assert [bar["name"] for bar in balance["data"]] == ["cat", "dog"]
    assert list(plotly_array(balance["data"][0]["y"])) == [24, len(split.train) // 2, len(split.val) // 2]

    before = [image.value for image in grid]
    next(b for b in at.button if b.label == "Reshuffle").click().run()
    assert_no_exception(at)
    after = [image.value for image in at.image if image.captions and image.captions[0] in ("cat", "dog")]
    assert len(after) == 12 and after != before


def test_data_split_controls_change_the_split(monkeypatch, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/data.py")
    at.number_input(key="train_size").set_value(20)
    at.number_input(key="val_size").set_value(8)
    at.number_input(key="split_seed").set_value(7).run()
    assert_no_exception(at)
    split = at.session_state["split"]
    assert (len(split.train), len(split.val), split.seed, split.note) == (20, 8, 7, None)
    assert "**20** training images (10 cats, 10 dogs)" in texts(at)


def test_data_page_typed_folder_with_broken_files_lists_what_was_skipped(tmp_path, data_root):
    folder = tmp_path / "mine"
    folder.mkdir()
    for label in ("cat", "dog"):
        for i in range(5):
            shutil.copy(data_root / "train" / f"{label}.{i}.jpg", folder)
    (folder / "cat.99.jpg").write_bytes(b"this is not a photo")
    (folder / "notes.txt").write_text("hello")

    at = open_page("cnnviz_app/pages/data.py")
    assert any(b.label == "Download the dataset" for b in at.button)
    at.text_input(key="folder_input").input(str(folder)).run()
    assert_no_exception(at)
    assert "Found 5 cats, 5 dogs, 2 skipped" in texts(at)
    skipped = at.dataframe[0].value
    assert set(skipped["file"]) == {"cat.99.jpg", "notes.txt"}
    assert all(reason for reason in skipped["reason"])
    assert not any(b.label == "Download the dataset" for b in at.button)


def test_data_page_bad_folder_shows_one_error_and_nothing_breaks(tmp_path):
    at = open_page("cnnviz_app/pages/data.py")
    at.text_input(key="folder_input").input(str(tmp_path / "nowhere")).run()
    assert_no_exception(at)
    assert len(at.error) == 1 and "There is no folder" in at.error[0].value
    assert "split" not in at.session_state


def test_download_button_fetches_unzips_and_scans_the_archive(tmp_path, monkeypatch, data_root):
    """The button downloads from $CNNVIZ_DOWNLOAD_URL (here a server on this machine: tests
    never use the internet), and the page then shows the archive's photos and broken files."""
    import functools
    import http.server
    import threading
    import zipfile

    archive = tmp_path / "served" / "pets.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for label, folder in (("cat", "Cat"), ("dog", "Dog")):
            for i in range(6):
                zf.write(data_root / "train" / f"{label}.{i}.jpg", f"PetImages/{folder}/{i}.jpg")
        zf.writestr("PetImages/Cat/666.jpg", b"")  # empty, as in Microsoft's archive
        zf.writestr("PetImages/Dog/Thumbs.db", b"junk")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CNNVIZ_DOWNLOAD_URL", f"http://127.0.0.1:{server.server_port}/pets.zip")
    try:
        at = open_page("cnnviz_app/pages/data.py")
        next(b for b in at.button if b.label == "Download the dataset").click().run()
    finally:
        server.shutdown()
    assert_no_exception(at)
    assert not at.error
    assert "Found 6 cats, 6 dogs, 2 skipped" in texts(at)
    assert at.text_input(key="folder_input").value == at.session_state["data_folder"]
    assert Path(at.session_state["data_folder"]).is_relative_to(tmp_path / "cache")


# --- layer explorer --------------------------------------------------------------------------


def explorer(**state) -> AppTest:
    return open_page("cnnviz_app/pages/layer_explorer.py", **state)


def test_layer_explorer_chelsea_verdict_mosaics_filters_dense_and_convolution_check():
    from cnnviz.inspect import classify
    from cnnviz_app.common import chelsea

    model, card = shipped()
    at = explorer()
    body = texts(at)
    photo = chelsea()

    # The verdict is the library's, for the shipped (or untrained) weights; the 0.5 rule is stated.
    p = at.session_state["_memo"]
    verdict = next(iter(p.values())).verdict
    expected = classify(model, photo.network_input)
    assert verdict.label == expected.label and verdict.dog_probability == pytest.approx(expected.dog_probability, abs=1e-5)
    assert f"P(dog) = {verdict.dog_probability:.3f}" in body and "≥ 0.5" in body
    assert f"Verdict: **{verdict.label}**, {verdict.probability:.1%} sure" in body
    assert ("These weights are untrained" in body) == (card is None)
    assert "What the network gets: squashed to 150 × 150" in body

    # Every conv, ReLU and pool layer has a mosaic labelled with its output shape.
    for caption in (
        "conv2d_1 · convolution · 148×148×32",
        "relu_1 · relu · 148×148×32",
        "max_pooling2d_1 · max pooling · 73×73×32",
        "conv2d_3 · convolution · 71×71×64",
        "max_pooling2d_2 · max pooling · 35×35×64",
    ):
        assert caption in body
    assert "conv2d_1 in RGB" in body and "conv2d_1, blue channel" in body
    assert "applies to input channel 0 (one of 32" in body

    # The 64 dense activations, and the arithmetic to the verdict.
    dense = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "bar")
    assert plotly_array(dense["data"][0]["y"]).shape == (64,)
    assert "dense_2** adds them up" in body

    # The convolution check: correlate2d and the flipped convolve2d match, the tutorial's does not.
    diffs = [float(x) for x in re.findall(r"max \|difference\| = ([0-9.e+-]+)", body)]
    assert len(diffs) == 3
    assert diffs[0] < 1e-4 and diffs[1] < 1e-4 and diffs[2] > 1e-3


def test_layer_explorer_closer_look_and_filter_pickers_rerun_without_errors():
    at = explorer()
    at.selectbox(key="closer_layer").select("relu_2").run()
    assert_no_exception(at)
    body = texts(at)
    assert "After a ReLU, every negative value has become 0." in body
    heatmap = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "heatmap")
    z = plotly_array(heatmap["data"][0]["z"])
    assert z.shape == (146, 146) and z.min() >= 0

    at.selectbox(key="filter_layer").select("conv2d_3").run()
    at.slider(key="filter_channel_conv2d_3").set_value(31).run()
    at.slider(key="check_filter").set_value(5).run()
    assert_no_exception(at)
    body = texts(at)
    assert "conv2d_3: the 3 × 3 weights each of its 64 filters applies to input channel 31" in body
    assert len(re.findall(r"max \|difference\| = ", body)) == 3


def test_layer_explorer_pixel_view_shows_the_numbers_of_the_photo():
    from cnnviz_app.common import chelsea

    at = explorer()
    photo = chelsea()
    at.slider(key="pixel_row_False").set_value(10)
    at.slider(key="pixel_col_False").set_value(20).run()
    assert_no_exception(at)
    patch = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "image")
    shown = " ".join(t for trace in patch["data"][1:] for t in trace["text"])
    r, g, b = photo.original[10, 20]
    assert f"{r}<br>{g}<br>{b}" in shown
    assert "row 10, column 20" in texts(at)

    at.radio(key="pixel_source").set_value(at.radio(key="pixel_source").options[1]).run()
    assert_no_exception(at)
    patch = next(s for s in plotly_specs(at) if s["data"][0].get("type") == "image")
    shown = " ".join(t for trace in patch["data"][1:] for t in trace["text"])
    assert re.search(r"0\.\d\d<br>0\.\d\d<br>0\.\d\d", shown)


def test_upload_of_a_real_photo_goes_through_every_layer(cat_photo):
    data = cat_photo.read_bytes()
    expected = load_photo(data, name=cat_photo.name)
    at = explorer()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    assert "Choose a photo above" in texts(at)
    at.file_uploader[0].set_value((cat_photo.name, data, "image/jpeg")).run()
    assert_no_exception(at)
    assert not at.error
    body = texts(at)
    h, w = expected.original.shape[:2]
    assert f"{cat_photo.name}: {w} × {h} pixels, JPEG" in body
    assert "Verdict:" in body and "conv2d_3 · convolution · 71×71×64" in body


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
