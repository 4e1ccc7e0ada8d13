"""The weights that ship: found without a flag, intact, honest about their split, and as
right as their card and the README say on photos that training never saw."""

import re
from pathlib import Path

import pytest

from cnnviz.model import WEIGHTS_DIR, default_weights_path

from cnnviz.cards import read_card, sha256_of
from tests.library.helpers import REPO, cnnviz


# Each network whose weights ship: its parameters, its optimizer, and the accuracy on the
# held-out originals it must keep (the README states each figure).
SHIPPED = {"tutorial": (5_046_369, "RMSprop", 0.85), "modern": (1_176_353, "Adam", 0.85)}


@pytest.fixture(scope="module", params=list(SHIPPED))
def shipped(request):
    path = default_weights_path(network=request.param)
    assert path is not None, f"no weight file of the {request.param} network ships in {WEIGHTS_DIR}"
    return path, read_card(path), request.param


def test_each_shipped_file_is_in_the_repository_with_a_complete_card(shipped):
    path, card, network = shipped
    parameters, optimizer, _ = SHIPPED[network]
    assert path.parent.resolve() == (REPO / "weights").resolve()
    assert path.stat().st_size < 25 * 2**20
    assert card["sha256"] == sha256_of(path)
    assert card["parameters"] == parameters
    assert card["split"]["train"] > 0 and card["split"]["val"] > 0 and isinstance(card["data"]["seed"], int)
    assert card["recipe"]["optimizer"] == optimizer and card["recipe"]["loss"] == "binary_crossentropy"
    assert card["epochs"] == len(card["history"]) and card["training_seconds"] > 0 and card["machine"]["cores"]
    validation = card["validation"]
    assert sum(map(sum, validation["confusion"])) == validation["n"] == card["split"]["val"]


@pytest.mark.slow
def test_predict_uses_the_shipped_weights_without_a_flag(cat_photo, dog_photo):
    r = cnnviz("predict", cat_photo, dog_photo)
    assert r.returncode == 0, r.stderr
    assert "untrained" not in r.stderr
    labels = [line.split(": ", 1)[1].split(" ")[0] for line in r.stdout.splitlines()]  # "path: cat (P(cat) = …, P(dog) = …)"
    assert labels == ["cat", "dog"]


@pytest.mark.slow
def test_the_originals_were_held_out_and_most_of_them_are_right(shipped, data_root):
    """The README's results on the originals, recomputed: the 300 full-size originals are ids
    0-149 of train/, so they are a fair test only because the card lists all of them as held out."""
    _, card, network = shipped
    originals = {p.name for p in (data_root / "originals").iterdir()}
    assert originals <= set(card["data"]["held_out"])
    r = cnnviz("evaluate", "--data", data_root / "originals", "--network", network)
    assert r.returncode == 0, r.stderr
    accuracy = float(re.search(r"accuracy: ([0-9.]+) \(n=300\)", r.stdout).group(1))
    assert accuracy >= SHIPPED[network][2]
    assert f"**{accuracy:.4f}**" in (REPO / "README.md").read_text()


@pytest.mark.slow
def test_the_cards_validation_figures_are_reproduced_by_the_cli(shipped, data_root):
    path, card, _ = shipped
    r = cnnviz("evaluate", "--data", data_root / "train", "--validation-of", path)
    assert r.returncode == 0, r.stderr
    (cats, dogs) = card["validation"]["confusion"]
    assert re.search(rf"cat\s+{cats[0]}\s+{cats[1]}\n\s+dog\s+{dogs[0]}\s+{dogs[1]}\n", r.stdout), r.stdout
    assert f"accuracy: {card['validation']['accuracy']:.4f} (n={card['split']['val']})" in r.stdout


@pytest.mark.slow
def test_the_card_lists_the_photos_they_trained_on_and_evaluate_leaves_them_out(shipped, data_root):
    _, card, network = shipped
    trained = set(card["trained_on"])
    assert len(trained) == card["split"]["train"] and not trained & set(card["data"]["held_out"])
    r = cnnviz("evaluate", "--data", data_root / "train", "--limit", 40, "--network", network)
    assert r.returncode == 0, r.stderr
    assert f"left out {len(trained):,} photos these weights were trained on" in r.stdout
    assert "(n=40)" in r.stdout


@pytest.mark.slow
def test_validation_of_a_file_without_a_card_is_one_clear_error(tmp_path, data_root):
    bare = tmp_path / "bare.weights.h5"
    bare.write_bytes(Path(default_weights_path()).read_bytes())
    r = cnnviz("evaluate", "--data", data_root / "originals", "--validation-of", bare)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: bare.weights.h5 has no card")
