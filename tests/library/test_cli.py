"""The command line, run as a user runs it: a subprocess, its output and exit status; long
sequences of commands in-process through main(), which is what the subprocess runs."""

import json
import os
import re
from types import SimpleNamespace

import pytest

from tests.library.helpers import cnnviz


def in_process(capsys):
    """`cnnviz`'s twin that calls the CLI's main() in this process: what `python -m cnnviz` runs,
    with one TensorFlow import for many commands (the subprocess tests keep the process's exit)."""
    from cnnviz.cli import main

    def run(*args) -> SimpleNamespace:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)

    return run


def test_summary_prints_the_total():
    r = cnnviz("summary")
    assert r.returncode == 0, r.stderr
    assert "total parameters: 5,046,369" in r.stdout
    assert "(3x3x3)x32 + 32" in r.stdout and "99.43%" in r.stdout


@pytest.mark.slow
def test_predict_one_line_per_image(cat_photo, dog_photo):
    r = cnnviz("predict", cat_photo, dog_photo)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, photo in zip(lines, (cat_photo, dog_photo)):
        name, rest = line.split(": ", 1)
        label, scores = rest.split(" ", 1)
        p_cat, p_dog = (float(part.split("= ")[1]) for part in scores.strip("()").split(", "))
        assert name == str(photo) and label in ("cat", "dog") and "sure" not in line
        assert p_cat + p_dog == pytest.approx(1.0, abs=2e-3) and (label == "dog") == (p_dog > 0.5)


@pytest.mark.slow
def test_predict_bad_file_exit_2_without_traceback(tmp_path, cat_photo):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    r = cnnviz("predict", cat_photo, bad)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = [l for l in r.stderr.splitlines() if "error" in l]
    assert len(errors) == 1 and "notes.jpg" in errors[0]
    assert str(cat_photo) in r.stdout  # the good image still gets its line


@pytest.mark.slow
def test_bad_data_folder_exit_2(tmp_path):
    r = cnnviz("evaluate", "--data", tmp_path / "nowhere")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error:")


@pytest.mark.slow
def test_a_warm_restart_may_not_overwrite_the_file_it_starts_from(tmp_path, tiny_kaggle):
    weights = tmp_path / "start.weights.h5"
    weights.write_bytes(b"not even read")
    r = cnnviz("train", "--data", tiny_kaggle, "--weights", weights, "--out", tmp_path / "." / "start.weights.h5")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--out must name another file than --weights" in r.stderr
    assert weights.read_bytes() == b"not even read"


@pytest.mark.slow
def test_untrained_notice_when_no_weights(tmp_path, cat_photo):
    r = cnnviz("predict", cat_photo, "--weights", tmp_path / "absent.weights.h5")
    assert r.returncode == 2 and "No weight file" in r.stderr


@pytest.mark.slow
def test_convcheck_prints_three_comparisons():
    r = cnnviz("convcheck", "--filter", "5")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if "max abs difference" in l]
    assert len(lines) == 3
    diffs = [float(l.rsplit(" ", 1)[1]) for l in lines]
    assert diffs[0] < 1e-5 and diffs[1] < 1e-5 and diffs[2] > 1e-3
    # The tutorial's check, as the tutorial did it, and what its numbers show; never "looks alike".
    from cnnviz.images import chelsea
    from cnnviz.inspect import check_lines, convolution_check
    from cnnviz.model import load_default_model

    check = convolution_check(load_default_model()[0], chelsea().network_input, 5)
    text = " ".join(r.stdout.split())
    for line in check_lines(check):
        assert " ".join(line.split()) in text
    assert "rgb2gray of the unscaled photo" in text and "flips the kernel" in text and "alike" not in text


@pytest.mark.slow
def test_inspect_writes_pngs(tmp_path, cat_photo):
    r = cnnviz("inspect", cat_photo, "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert sum(n.startswith("filters_") for n in names) == 3
    assert sum(n.startswith("activations_") for n in names) == 14  # one per layer
    assert {"overview.png", "occlusion.png", "fgsm.png"} <= set(names) and len(names) == 21
    assert all((tmp_path / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    lines = {line.split(": ", 1)[0]: line for line in r.stdout.splitlines()}
    assert "relu_1, relu_2, max_pooling2d_1, relu_3, max_pooling2d_2" in lines["overview.png"]
    assert "agreement with Grad-CAM (Spearman over the squares): " in lines["occlusion.png"]
    assert "of 255 levels" in lines["fgsm.png"] and "at ε = " in lines["fgsm.png"]
    assert f"wrote 21 PNGs to {tmp_path}" in r.stdout
    # What the first convolution's strongest filter on this photo looks for, that filter found here again.
    from cnnviz.images import load_photo
    from cnnviz.inspect import activations
    from cnnviz.model import load_default_model

    maps = activations(load_default_model()[0], load_photo(cat_photo).network_input)["conv2d_1"]
    strongest = int(maps.max(axis=(0, 1)).argmax())
    assert [n for n in names if n.startswith("looks_for_")] == [f"looks_for_conv2d_1_filter_{strongest}.png"]
    assert f"conv2d_1's filter {strongest}: the made input reaches" in r.stdout


@pytest.mark.slow
def test_inspect_draws_the_units_asked_for_beside_their_photo_patches(tmp_path, cat_photo, data_root):
    r = cnnviz("inspect", cat_photo, "--out", tmp_path, "--looks-for", "conv2d_3:7", "--data", data_root / "originals")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "looks_for_conv2d_3_filter_7.png").read_bytes()[:4] == b"\x89PNG"
    lines = [l for l in r.stdout.splitlines() if "the made input reaches" in l]
    assert len(lines) == 2 and lines[1].startswith("conv2d_3's filter 7:")
    for line in lines:  # "...reaches M (128 steps from S on faint noise); the strongest of 300 photos, NAME, reaches P"
        made, best = (float(part.split("reaches ")[1].split(" ")[0]) for part in line.split(";"))
        assert "of 300 photos" in line and made > best
    r = cnnviz("inspect", cat_photo, "--out", tmp_path, "--looks-for", "dense_1:0")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "is not a convolution layer" in r.stderr


@pytest.mark.slow
def test_photomap_writes_a_png_and_a_csv(tmp_path, data_root):
    r = cnnviz("photomap", "--data", data_root / "originals", "--out", tmp_path, "--limit", 60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "photomap.png").read_bytes()[:4] == b"\x89PNG"
    rows = (tmp_path / "photomap.csv").read_text().splitlines()
    assert len(rows) == 61 and rows[0].startswith("photo,true,p_dog,verdict,misclassified,pca_x,pca_y,tsne_x,tsne_y")
    assert sum(row.split(",")[1] == "dog" for row in rows[1:]) == 30
    assert "60 photos placed by dropout_1's 64 values" in r.stdout and "nearest neighbour" in r.stdout


@pytest.mark.slow
def test_train_resume_then_evaluate(tiny_kaggle, tmp_path, capsys, monkeypatch):
    """In-process (main() is what `python -m cnnviz` runs): five commands, one TensorFlow import."""
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    cnnviz = in_process(capsys)
    out, checkpoint = tmp_path / "tiny.weights.h5", tmp_path / "run"
    common = ["--data", tiny_kaggle, "--train-samples", 32, "--val-samples", 16, "--batch-size", 8,
              "--out", out, "--keep-last", "--checkpoint", checkpoint, "--precision", "mixed_bfloat16"]
    r = cnnviz("train", *common, "--epochs", 1)
    assert r.returncode == 0, r.stderr
    (line,) = [l for l in r.stdout.splitlines() if l.startswith("epoch ")]
    assert line.startswith("epoch 1:")
    assert all(k in line for k in ("loss", "accuracy", "val_loss", "val_accuracy", "images/s"))
    assert (checkpoint / "last.keras").is_file()

    # An interrupted run resumes: asking for 2 epochs in all trains only the second.
    r = cnnviz("train", *common, "--epochs", 2)
    assert r.returncode == 0, r.stderr
    assert "resuming from" in r.stdout
    assert [l.split(":")[0] for l in r.stdout.splitlines() if l.startswith("epoch ")] == ["epoch 2"]
    card = json.loads(out.with_name("tiny.card.json").read_text())
    assert card["epochs"] == 2 and [h["epoch"] for h in card["history"]] == [1, 2]
    assert card["recipe"]["precision"] == "mixed_bfloat16"
    assert card["training_seconds"] == round(sum(h["seconds"] for h in card["history"]))
    assert card["machine"]["cores"] == os.cpu_count() and card["machine"]["tensorflow"]
    # The card's validation figures are the float32 file's, as every viewer computes them.
    validation = card["validation"]
    assert validation["n"] == 16 and sum(map(sum, validation["confusion"])) == 16
    (tn, fp), (fn, tp) = validation["confusion"]
    assert validation["accuracy"] == (tn + tp) / 16

    # The card lists the 32 photos these weights trained on, and evaluate leaves them out of the 48.
    assert len(card["trained_on"]) == 32 and set(card["trained_on"]) <= {p.name for p in tiny_kaggle.iterdir()}
    r = cnnviz("evaluate", "--data", tiny_kaggle, "--weights", out, "--limit", 20)
    assert r.returncode == 0, r.stderr
    assert "left out 32 photos these weights were trained on" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("accuracy: ") and last.endswith("(n=16)")

    # A warm restart from those weights: its card names the parent file and keeps its cost.
    assert card["started_from"] is None  # a fresh start: make_card keeps the key, unknown or absent values as None
    child = tmp_path / "child.weights.h5"
    r = cnnviz("train", "--data", tiny_kaggle, "--train-samples", 32, "--val-samples", 16, "--batch-size", 8,
               "--weights", out, "--out", child, "--keep-last", "--epochs", 1)
    assert r.returncode == 0, r.stderr
    parent = json.loads(child.with_name("child.card.json").read_text())["started_from"]
    assert parent["file"] == out.name and parent["sha256"] == card["sha256"]
    assert parent["epochs"] == 2 and parent["training_seconds"] == card["training_seconds"]
    assert parent["val_accuracy"] == validation["accuracy"] and parent["history"] == card["history"]
    assert json.loads(child.with_name("child.card.json").read_text())["trained_on"] == card["trained_on"]

    # Split another way, the restart's validation side leaves out the photos its start had learned,
    # says how many, and `evaluate --validation-of` rebuilds exactly those photos from the card.
    leaky = tmp_path / "leaky.weights.h5"
    r = cnnviz("train", "--data", tiny_kaggle, "--train-samples", 32, "--val-samples", 16, "--seed", 99, "--batch-size", 8,
               "--weights", out, "--out", leaky)
    assert r.returncode == 0, r.stderr
    note = re.search(r"left out (\d+) of the split's 16 validation photos: tiny.weights.h5 was trained on them", r.stdout)
    assert note, r.stdout
    left_out = int(note.group(1))
    assert 0 < left_out < 16
    assert f"validating on {16 - left_out}" in r.stdout
    leaky_card = json.loads(leaky.with_name("leaky.card.json").read_text())
    assert leaky_card["split"] == {"train": 32, "val": 16} and leaky_card["data"]["seed"] == 99
    assert leaky_card["validation"]["n"] == 16 - left_out
    r = cnnviz("evaluate", "--data", tiny_kaggle, "--weights", leaky, "--validation-of", leaky)
    assert r.returncode == 0, r.stderr
    assert f"left out {left_out} of them: leaky.weights.h5 was trained on them" in r.stdout
    (cats, dogs) = leaky_card["validation"]["confusion"]
    assert re.search(rf"cat\s+{cats[0]}\s+{cats[1]}\n\s+dog\s+{dogs[0]}\s+{dogs[1]}\n", r.stdout), r.stdout
    assert f"accuracy: {leaky_card['validation']['accuracy']:.4f} (n={16 - left_out})" in r.stdout


@pytest.mark.slow
def test_every_command_takes_a_network(tiny_kaggle, cat_photo, tmp_path, capsys):
    """--network (or --arch) on summary, train, predict, evaluate, inspect and convcheck; a file
    remembers its network, and is refused for another. In-process: the CLI's main() is what
    `python -m cnnviz` runs, and one TensorFlow import serves every command."""
    line, out = "conv4 bn pool conv8 gap", tmp_path / "small.weights.h5"
    cnnviz = in_process(capsys)

    def run(*args) -> tuple[int, str, str]:
        r = cnnviz(*args)
        return r.returncode, r.stdout, r.stderr

    code, text, _ = run("summary", "--arch", "conv32 pool conv32 pool conv64 pool dense64 dropout0.5")
    assert code == 0 and "total parameters: 1,212,513" in text, "the Keras blog's pooled network, as issue 16 counts it"
    code, text, _ = run("summary", "--arch", line)
    assert code == 0 and f"network: {line}" in text and "batch norm" in text and "global average pooling" in text
    code, text, err = run("train", "--data", tiny_kaggle, "--train-samples", 32, "--val-samples", 16, "--batch-size", 8,
                          "--network", line, "--optimizer", "adam", "--learning-rate", 3e-4, "--out", out)
    assert code == 0, err
    card = json.loads(out.with_name("small.card.json").read_text())
    assert card["network"] == line and card["recipe"]["optimizer"] == "Adam" and card["recipe"]["learning_rate"] == 3e-4
    code, text, err = run("predict", cat_photo, "--weights", out)
    assert code == 0 and str(cat_photo) in text, err
    code, text, err = run("evaluate", "--data", tiny_kaggle, "--weights", out, "--limit", 8)
    assert code == 0 and text.strip().splitlines()[-1].startswith("accuracy: "), err
    code, text, err = run("convcheck", "--weights", out, "--network", line)
    assert code == 0 and len([l for l in text.splitlines() if "max abs difference" in l]) == 3, err
    code, text, err = run("inspect", cat_photo, "--out", tmp_path / "png", "--weights", out)
    assert code == 0, err
    names = [p.name for p in (tmp_path / "png").glob("*.png")]
    assert sum(n.startswith("filters_") for n in names) == 2, "one filter sheet per convolution"
    code, text, err = run("predict", cat_photo, "--weights", out, "--network", "modern")
    assert code == 2 and "holds weights for 'conv4 bn pool conv8 gap', not 'modern'" in err and "Traceback" not in err
    code, text, err = run("summary", "--arch", "conv8 pool dense4 conv8")
    assert code == 2 and err.count("\n") == 1 and "conv comes after the maps became a vector" in err


def test_a_network_over_the_limit_is_refused_in_one_line(tiny_kaggle, capsys):
    """Before anything is built or read: one sentence that names the limit, exit status 2."""
    from cnnviz.architecture import MAX_PARAMETERS
    from cnnviz.cli import main

    big = "conv32 conv32 pool conv64 pool dense256 dropout0.5"
    for args in (["summary", "--arch", big], ["train", "--data", str(tiny_kaggle), "--arch", big, "--train-samples", "32"]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: The network has 20,099,553 parameters; this server holds up to {MAX_PARAMETERS:,} per attendee: "
            "add a pool before the flatten or use fewer units in dense256 (dense_1 holds 20,070,656).\n"
        )
