"""`python -m cnnviz`: everything the app computes, printed.

Exit status 0 on success, 2 on a user's mistake (one line on stderr, never a traceback).
Modules that import TensorFlow (inspect, evaluation, runs, report) are imported inside the
commands that need them, so `--help` and `summary`'s parser answer without its seconds of import.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cnnviz.cards import card_trained_on
from cnnviz.dataset import find_dataset, unseen
from cnnviz.download import download_dataset
from cnnviz.errors import CnnvizError
from cnnviz.images import chelsea, load_photo
from cnnviz.precision import CHOICES
from cnnviz.architecture import multiply_adds, network_line
from cnnviz.model import OPTIMIZERS, build_network, layer_table, load_default_model, predict_dog_probability

UNTRAINED = (
    "note: no weight file in weights/, so the network is untrained and its answers are coin flips; "
    "train one with `python -m cnnviz train --data DIR --out weights/NAME.weights.h5`."
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "network", None):  # a bad line is refused before any photo or file is read
            network_line(args.network)
        return args.run(args) or 0
    except CnnvizError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnviz", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("summary", help="the layer table and parameter counts")
    _network_option(p)
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("predict", help="dog or cat for each image")
    p.add_argument("images", nargs="+", type=Path)
    _weights_option(p)
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("evaluate", help="accuracy and confusion matrix on a labelled folder")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--limit", type=int, help="a balanced, seeded sample of this many images")
    p.add_argument(
        "--validation-of",
        type=Path,
        metavar="WEIGHTS",
        help="only the validation photos these weights were chosen on (rebuilt from their card), judged by these "
        "weights unless --weights names others; --data is the folder they were trained from",
    )
    p.add_argument("--batch-size", type=int, default=64)
    _weights_option(p)
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("train", help="train the network on a labelled folder")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--train-samples", type=int, default=16_000)
    p.add_argument("--val-samples", type=int, default=6_400)
    p.add_argument("--epochs", type=int, default=1, help="train until this many epochs in all (counting resumed ones)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="rmsprop", help="rmsprop (the tutorial's), adam, or sgd (momentum 0.9)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--precision",
        choices=CHOICES,
        default="auto",
        help="arithmetic of the training steps (weights stay float32): auto = mixed_bfloat16 where the CPU has "
        "bfloat16 units (AVX512_BF16, AMX) or the GPU does, float32 elsewhere",
    )
    p.add_argument("--augment", action="store_true", help="random flips, rotations and zooms (training images only)")
    p.add_argument("--weights", type=Path, help="start from this weight file instead of untrained")
    _network_option(p)
    p.add_argument(
        "--exclude",
        type=Path,
        help="hold out every photo whose file name also appears in this folder (e.g. the originals you will evaluate on)",
    )
    p.add_argument("--distribute", action="store_true", help="train under tf.distribute: all local GPUs, or the cluster in TF_CONFIG")
    p.add_argument("--logical-cpus", type=int, help="with --distribute: split the CPU into this many devices (for trying it without GPUs)")
    p.add_argument("--no-scale-lr", action="store_true", help="with --distribute: keep the learning rate as given")
    p.add_argument("--out", type=Path, help="save the best epoch's weights here (by val_accuracy), with a card")
    p.add_argument("--keep-last", action="store_true", help="with --out: save every epoch, not only the best")
    p.add_argument("--checkpoint", type=Path, help="a folder: save the whole training state after every epoch, resume from it")
    p.add_argument("--patience", type=int, help="stop after this many epochs without a better val_accuracy")
    p.add_argument("--halve-after", type=int, help="halve the learning rate after this many epochs without a better val_accuracy")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("convcheck", help="is the first layer really convolving? three hand computations")
    p.add_argument("image", nargs="?", type=Path, help="default: Chelsea the cat (scikit-image)")
    p.add_argument("--filter", type=int, default=0)
    _weights_option(p)
    p.set_defaults(run=cmd_convcheck)

    p = sub.add_parser(
        "inspect",
        help="PNGs of every layer's activations and every filter, the overview, occlusion and FGSM, and what the first "
        "convolution's strongest filter looks for",
    )
    p.add_argument("image", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--looks-for",
        action="append",
        default=[],
        metavar="UNIT",
        help="also draw what this unit looks for: LAYER:FILTER (a convolution's filter, e.g. conv2d_3:7), dog or cat "
        "(the output unit); repeatable. Each takes a few seconds",
    )
    p.add_argument(
        "--data",
        type=Path,
        help="a labelled folder: beside each made input, the nine patches of its photos (a sample of photos the weights "
        "were not trained on) that excite the unit most",
    )
    _weights_option(p)
    p.set_defaults(run=cmd_inspect)

    p = sub.add_parser("photomap", help="the network's map of labelled photos (PCA and t-SNE of its last hidden layer): a PNG and a CSV")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="a folder for photomap.png and photomap.csv")
    p.add_argument("--limit", type=int, default=500, help="a balanced, seeded sample of this many photos (default 500)")
    p.add_argument("--seed", type=int, default=13, help="the sample's and t-SNE's seed")
    _weights_option(p)
    p.set_defaults(run=cmd_photomap)

    p = sub.add_parser("download", help="fetch Microsoft's PetImages archive (786 MB) and validate it")
    p.add_argument("--dest", type=Path)
    p.set_defaults(run=cmd_download)
    return parser


def _weights_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, help="a .weights.h5 file (default: the network's newest in weights/)")
    _network_option(parser)


def _network_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network",
        "--arch",
        dest="network",
        metavar="NETWORK",
        help="tutorial (the default), modern, or a line of blocks such as "
        "'conv32 pool conv32 pool conv64 pool dense64 dropout0.5': convN, pool, bn, dropoutP, gap, denseN "
        "(one sigmoid unit is always added); with --weights, that file's network",
    )


def _load_model(args):
    """(model, card) for --weights or the network's default file; card None means untrained, said on stderr."""
    model, card = load_default_model(args.weights, args.network)
    if card is None:
        print(UNTRAINED, file=sys.stderr)
    return model, card


# --- commands --------------------------------------------------------------------------


def cmd_summary(args) -> None:
    line = network_line(args.network or "tutorial")
    model = build_network(line)
    rows = layer_table(model)
    print(f"network: {line}")
    cells = [
        (r.name, r.kind, "x".join(str(d) for d in r.output_shape), f"{r.params:,} = {r.formula}", f"{r.share:.2%}")
        for r in rows
    ]
    header = ("layer", "kind", "output shape", "parameters = formula", "share")
    widths = [max(len(row[i]) for row in [header, *cells]) + 2 for i in range(4)]
    for row in [header, *cells]:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths)) + row[4].rjust(7))
    print(f"total parameters: {model.count_params():,}")
    macs = multiply_adds(line)
    print(f"multiply-adds per photo: {macs:,} ({macs / 1e6:,.0f} million)")


def cmd_predict(args) -> int:
    photos, failed = [], False
    for path in args.images:
        try:
            photos.append((path, load_photo(path)))
        except CnnvizError as e:
            print(f"{path}: error: {e}", file=sys.stderr)
            failed = True
    if photos:
        from cnnviz.inspect import verdict, verdict_words

        model, _ = _load_model(args)
        probabilities = predict_dog_probability(model, np.stack([p.network_input for _, p in photos]))
        for (path, photo), p in zip(photos, probabilities):
            v = verdict(p)
            for warning in photo.warnings:
                print(f"{path}: warning: {warning}", file=sys.stderr)
            print(f"{path}: {verdict_words(v)}")
    return 2 if failed else 0


def cmd_evaluate(args) -> None:
    from cnnviz.evaluation import evaluate_items, sample_items

    dataset = _scan(args.data)
    items = _validation_of(dataset, args.validation_of) if args.validation_of else dataset.items
    if args.validation_of and not args.weights:  # judging another network's file on its split would mislead
        args.weights = args.validation_of
    model, card = _load_model(args)
    items = _unseen_by(card, dataset, items)
    items = sample_items(items, args.limit) if args.limit else items
    with _bar(len(items), "evaluating", "img") as bar:
        result = evaluate_items(model, items, batch_size=args.batch_size, on_batch=bar.update)
    (tn, fp), (fn, tp) = result.confusion
    print("confusion matrix (rows: true class, columns: predicted)")
    print(f"{'':>10}{'cat':>8}{'dog':>8}")
    print(f"{'cat':>10}{tn:>8}{fp:>8}")
    print(f"{'dog':>10}{fn:>8}{tp:>8}")
    print(f"accuracy: {result.accuracy:.4f} (n={result.n})")


def _unseen_by(card, dataset, items):
    """`items` less the photos the card says its weights were trained on, said; CnnvizError if none is left."""
    if seen := card_trained_on(card):
        items, left_out = unseen(items, dataset.root, seen)
        if left_out:
            print(f"left out {left_out:,} photos these weights were trained on (their card lists them)")
        if not items:
            raise CnnvizError(f"These weights were trained on every photo in {dataset.root}: choose a folder of others.")
    return items


def _validation_of(dataset, weights_path: Path):
    """The validation photos a weight file was chosen on (cnnviz.runs.validation_of), said."""
    from cnnviz.runs import validation_of

    split, left_out = validation_of(dataset, weights_path)
    print(f"the validation side of {weights_path.name}'s split: {len(split.val) + left_out:,} photos (seed {split.seed})")
    if left_out:
        print(f"left out {left_out:,} of them: {weights_path.name} was trained on them (its card lists them)")
    return split.val


def cmd_train(args) -> None:
    from cnnviz.runs import Run, RunOptions, check_out, exclude

    # Every RunOptions field is a flag of the same name, but --no-scale-lr, which says it the other way round.
    flags = {f.name: getattr(args, f.name) for f in fields(RunOptions) if f.name != "scale_lr"}
    options = RunOptions(**flags, scale_lr=not args.no_scale_lr)
    check_out(options)
    dataset, held_out = _scan(args.data), []
    if args.exclude:
        dataset, held_out = exclude(dataset, args.exclude)
        print(f"held out {len(held_out):,} photos named as in {args.exclude}")
    bar = _EpochBar()

    def epoch_done(result, rate) -> None:
        bar.close()
        print(_epoch_line(result, rate))

    Run(dataset, options, held_out=held_out, say=print).train(on_batch=bar.update, on_epoch=epoch_done)


def _epoch_line(r, lr) -> str:
    if r.val_accuracy is None:
        val = "stopped before validation"
    else:
        val = f"val_loss {r.val_loss:.4f} - val_accuracy {r.val_accuracy:.4f}"
    return (
        f"epoch {r.epoch}: loss {r.loss:.4f} - accuracy {r.accuracy:.4f} - {val} - "
        f"{r.images_per_second:.1f} images/s - {r.seconds:.0f} s - lr {lr:.1e}"
    )


class _EpochBar:
    """A tqdm bar per epoch, fed by the training's batch events."""
    def __init__(self):
        self.bar = None

    def update(self, p) -> None:
        if self.bar is None:
            self.bar = _bar(p.batches, f"epoch {p.epoch}", "batch")
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{p.loss:.4f}", accuracy=f"{p.accuracy:.4f}", img_s=f"{p.images_per_second:.1f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_convcheck(args) -> None:
    from cnnviz.inspect import check_lines, convolution_check

    photo = _photo_or_chelsea(args.image)
    model, _ = _load_model(args)
    check = convolution_check(model, photo.network_input, args.filter)
    print(f"first-layer filter {check.filter_index}, compared with the network's own feature map:")
    for name, diff in check.max_abs_difference.items():
        print(f"  {name:<60} max abs difference {diff:.2e}")
    for line in check_lines(check):
        print(textwrap.fill(line, width=100))
    if check.dead and check.firing:
        print(f"try --filter {check.firing[0]}.")
    print("Keras's Conv2D is a cross-correlation: correlate2d, or convolve2d with the kernel flipped, reproduces it.")


def _photo_or_chelsea(path):
    return load_photo(path) if path is not None else chelsea()


def cmd_inspect(args) -> None:
    from cnnviz.report import photo_report

    photo = _photo_or_chelsea(args.image)
    model, card = _load_model(args)
    report = photo_report(model, photo)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [_write(args.out / f"filters_{name}.png", report.filter_png(name)) for name in report.filters]
    for i, name in report.numbered_layers():
        written.append(_write(args.out / f"activations_{i:02d}_{name}.png", report.layer_png(name)))
    from cnnviz.adversarial import MAX_EPSILON, flip_words
    from cnnviz.inspect import verdict_words
    from cnnviz.mosaic import to_png
    from cnnviz.occlusion import occlusion_words

    print(f"{args.image or 'Chelsea (scikit-image)'}: {verdict_words(report.verdict)}")
    columns = report.overview.columns
    written.append(_write(args.out / "overview.png", report.overview.png))
    print(f"overview.png: the photo, a column for each of {len(columns)} layers ({', '.join(c.layer for c in columns)}), the verdict")
    written.append(_write(args.out / "occlusion.png", to_png(report.occlusion_figure())))
    print(f"occlusion.png: {occlusion_words(report.occlusion, report.occlusion_agreement)}")
    epsilon = report.smallest_flip or MAX_EPSILON
    written.append(_write(args.out / "fgsm.png", to_png(report.fooled_figure(epsilon))))
    print(f"fgsm.png: {flip_words(report.verdict, report.smallest_flip)}; at ε = {epsilon:.5f}: {verdict_words(report.fooled(epsilon).after)}")
    written += _looks_for(args, model, card, report)
    print(f"wrote {len(written)} PNGs to {args.out}")


def _looks_for(args, model, card, report) -> list[Path]:
    """What the first convolution's strongest filter on the photo looks for, and each --looks-for unit:
    a made input, with the nine strongest patches of --data's photos when given."""
    from cnnviz import maximise
    from cnnviz.inspect import first_conv_layer
    from cnnviz.mosaic import to_png

    conv = first_conv_layer(model).name
    units = [maximise.filter_unit(model, conv, report.strongest_filter(conv)), *(_unit(model, words) for words in args.looks_for)]
    photos = None
    if args.data:
        dataset = _scan(args.data)
        photos = maximise.photo_sample(_unseen_by(card, dataset, dataset.items))
    written = []
    for unit in dict.fromkeys(units):
        bar = _StepBar(f"what {unit.words()} looks for")
        made = maximise.made_input(model, unit, on_step=bar.update)
        bar.close()
        patches = None
        if photos is not None:
            with _bar(len(photos), f"{unit.layer} on {len(photos)} photos", "img") as photo_bar:
                patches = maximise.top_patches(model, unit, photos, on_batch=lambda done, _: photo_bar.update(done - photo_bar.n))
        written.append(_write(args.out / f"{unit.stem}.png", to_png(maximise.figure(made, patches))))
        print(maximise.looks_for_words(made, patches))
    return written


def _unit(model, words: str):
    """A --looks-for unit: dog, cat, or LAYER:FILTER."""
    from cnnviz import maximise

    if words in maximise.OUTPUTS:
        return maximise.output_unit(model, words)
    layer, _, index = words.partition(":")
    if not index.isdigit():
        raise CnnvizError(f"--looks-for {words!r}: write LAYER:FILTER (e.g. conv2d_3:7), dog or cat.")
    return maximise.filter_unit(model, layer, int(index))


class _StepBar:
    """A tqdm bar fed by `on_step(done, total)` callbacks."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _bar(total, self.desc, "step")
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_photomap(args) -> None:
    from cnnviz.charts import photo_map_png
    from cnnviz.evaluation import sample_items
    from cnnviz.photomap import neighbour_accuracy, photo_map

    dataset = _scan(args.data)
    model, card = _load_model(args)
    items = sample_items(_unseen_by(card, dataset, dataset.items), args.limit, args.seed)
    bar = _StepBar(f"{len(items)} photos through the network")
    found = photo_map(model, items, seed=args.seed, on_batch=bar.update)
    bar.close()
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "photomap.png", photo_map_png(found))
    (args.out / "photomap.csv").write_text(found.csv())
    n, wrong = len(found.labels), int(found.misclassified.sum())
    print(f"{n} photos placed by {found.layer}'s {found.dimensions} values; {wrong} of them the verdict gets wrong")
    pca, tsne = (neighbour_accuracy(getattr(found, m), found.labels) for m in ("pca", "tsne"))
    print(f"PCA (axes: {found.explained[0]:.0%} and {found.explained[1]:.0%} of the variance): a photo's nearest neighbour "
          f"has its class {pca:.0%} of the time; t-SNE: {tsne:.0%}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in found.seconds.items()))
    print(f"wrote photomap.png and photomap.csv to {args.out}")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def cmd_download(args) -> None:
    result = download_dataset(args.dest)
    counts = result.dataset.counts()
    print(f"archive: {result.archive} (sha256 {result.sha256})")
    print(f"found {counts['cat']:,} cats, {counts['dog']:,} dogs, {len(result.dataset.skipped):,} skipped")
    print(f"dataset: {result.root}")


# --- shared pieces ---------------------------------------------------------------------


def _bar(total: int, desc: str, unit: str):
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr)


def _scan(folder: Path):
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = _bar(total, "checking images", "file")
        bar.n = done
        bar.refresh()

    try:
        dataset = find_dataset(folder, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    counts = dataset.counts()
    print(f"found {counts['cat']:,} cats, {counts['dog']:,} dogs, {len(dataset.skipped):,} skipped ({dataset.layout})")
    return dataset
