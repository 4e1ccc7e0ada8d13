"""`python -m cnnviz`: everything the app computes, printed.

Exit status 0 on success, 2 on a user's mistake (one line on stderr, never a traceback).
TensorFlow is imported inside the commands that need it, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnviz.errors import CnnvizError

UNTRAINED = (
    "note: no weight file in weights/, so the network is untrained and its answers are coin flips; "
    "train one with `python -m cnnviz train --data DIR --out weights/NAME.weights.h5`."
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
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
        help="only the validation photos these weights were chosen on (rebuilt from their card); --data is the folder they were trained from",
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
    p.add_argument("--seed", type=int, default=13)
    p.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16"),
        default="float32",
        help="mixed_bfloat16: float32 weights, bfloat16 arithmetic; about 3x faster on CPUs with AMX",
    )
    p.add_argument("--augment", action="store_true", help="random flips, rotations and zooms (training images only)")
    p.add_argument("--weights", type=Path, help="start from this weight file instead of untrained")
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

    p = sub.add_parser("inspect", help="PNGs of every layer's activations and every filter")
    p.add_argument("image", type=Path)
    p.add_argument("--out", type=Path, required=True)
    _weights_option(p)
    p.set_defaults(run=cmd_inspect)

    p = sub.add_parser("download", help="fetch Microsoft's PetImages archive (786 MB) and validate it")
    p.add_argument("--dest", type=Path)
    p.set_defaults(run=cmd_download)
    return parser


def _weights_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, help="a .weights.h5 file (default: the newest in weights/)")


def _load_model(args):
    """(model, card) for --weights or the default file; card None means untrained, said on stderr."""
    from cnnviz.model import load_default_model

    model, card = load_default_model(args.weights)
    if card is None:
        print(UNTRAINED, file=sys.stderr)
    return model, card


# --- commands --------------------------------------------------------------------------


def cmd_summary(args) -> None:
    from cnnviz.model import build_model, layer_table

    model = build_model()
    rows = layer_table(model)
    print(f"{'layer':<17}{'kind':<17}{'output shape':<16}{'parameters = formula':<36}{'share':>7}")
    for r in rows:
        shape = "x".join(str(d) for d in r.output_shape)
        print(f"{r.name:<17}{r.kind:<17}{shape:<16}{f'{r.params:,} = {r.formula}':<36}{r.share:>7.2%}")
    print(f"total parameters: {model.count_params():,}")


def cmd_predict(args) -> int:
    from cnnviz.images import load_photo

    photos, failed = [], False
    for path in args.images:
        try:
            photos.append((path, load_photo(path)))
        except CnnvizError as e:
            print(f"{path}: error: {e}", file=sys.stderr)
            failed = True
    if photos:
        import numpy as np

        from cnnviz.inspect import verdict
        from cnnviz.model import predict_dog_probability

        model, _ = _load_model(args)
        probabilities = predict_dog_probability(model, np.stack([p.network_input for _, p in photos]))
        for (path, photo), p in zip(photos, probabilities):
            v = verdict(p)
            for warning in photo.warnings:
                print(f"{path}: warning: {warning}", file=sys.stderr)
            print(f"{path}: {v.label} {v.probability:.2f}")
    return 2 if failed else 0


def cmd_evaluate(args) -> None:
    from cnnviz.dataset import unseen
    from cnnviz.evaluation import evaluate_items, sample_items
    from cnnviz.cards import card_trained_on

    dataset = _scan(args.data)
    items = _validation_of(dataset, args.validation_of) if args.validation_of else dataset.items
    model, card = _load_model(args)
    if seen := card_trained_on(card):
        items, left_out = unseen(items, dataset.root, seen)
        if left_out:
            print(f"left out {left_out:,} photos these weights were trained on (their card lists them)")
        if not items:
            raise CnnvizError(f"These weights were trained on every photo in {args.data}: evaluate them on others.")
    items = sample_items(items, args.limit) if args.limit else items
    with _bar(len(items), "evaluating", "img") as bar:
        result = evaluate_items(model, items, batch_size=args.batch_size, on_batch=bar.update)
    (tn, fp), (fn, tp) = result.confusion
    print("confusion matrix (rows: true class, columns: predicted)")
    print(f"{'':>10}{'cat':>8}{'dog':>8}")
    print(f"{'cat':>10}{tn:>8}{fp:>8}")
    print(f"{'dog':>10}{fn:>8}{tp:>8}")
    print(f"accuracy: {result.accuracy:.4f} (n={result.n})")


def cmd_train(args) -> None:
    from cnnviz.checkpoint import save_checkpoint
    from cnnviz.split import split_dataset
    from cnnviz.model import learning_rate, load_weights, save_weights
    from cnnviz.training import Plateau, set_learning_rate, train

    if args.out and not args.out.name.endswith(".weights.h5"):
        raise CnnvizError(f"--out must name a .weights.h5 file, got {args.out.name!r}.")
    if args.weights and args.out and args.weights.resolve() == args.out.resolve():
        raise CnnvizError(
            "--out must name another file than --weights: the run's card records the file it started from, "
            "and a resumed run must find that file unchanged."
        )
    parent = _parent(args.weights) if args.weights else None
    dataset = _scan(args.data)
    dataset, held_out = _hold_out(dataset, args.exclude) if args.exclude else (dataset, [])
    split = split_dataset(dataset, args.train_samples, args.val_samples, seed=args.seed)
    if split.note:
        print(split.note)
    print(f"training on {len(split.train):,} images, validating on {len(split.val):,} (seed {split.seed})")
    trained_on = _trained_on(args.weights, split, dataset)
    from cnnviz.backend import keras

    keras.utils.set_random_seed(args.seed)  # the same command gives the same starting weights and order
    batch_size, lr, scope = _distribution(args)
    with scope:
        model, history = _starting_point(args, lr)
        if args.weights and not history:
            load_weights(model, args.weights)
    plateau = Plateau(patience=args.patience, halve_after=args.halve_after)
    for past in history:
        plateau.update(past["val_accuracy"], past["epoch"])
    bar = _EpochBar()
    for epoch in range(len(history) + 1, args.epochs + 1):
        started_lr = learning_rate(model)
        (result,) = train(
            model, split, 1, batch_size=batch_size, augment=args.augment, first_epoch=epoch, on_batch=bar.update
        )
        bar.close()
        history.append({**result.as_dict(), "learning_rate": started_lr})
        print(_epoch_line(result, started_lr))
        verdict = plateau.update(result.val_accuracy, epoch)
        if args.out and (verdict == "best" or args.keep_last):
            card = _card(args, dataset, split, history, held_out, plateau, parent, trained_on)
            save_weights(model, args.out, {**card, "validation": _validate_in_float32(model, split)})
            print(f"saved {args.out} (epoch {epoch})")
        if args.checkpoint:
            save_checkpoint(model, args.checkpoint, history)
        if verdict == "halve":
            set_learning_rate(model, started_lr / 2)
            print(f"no better val_accuracy for {plateau.waited} epochs: learning rate halved to {started_lr / 2:.2e}")
        if verdict == "stop":
            print(f"no better val_accuracy for {plateau.waited} epochs: stopping (best: epoch {plateau.best_epoch})")
            break


def _distribution(args):
    """(global batch size, learning rate, the scope to build the model in) for --distribute."""
    from contextlib import nullcontext

    if not args.distribute:
        return args.batch_size, args.learning_rate, nullcontext()
    from cnnviz import distribute

    if args.logical_cpus:
        distribute.split_cpu(args.logical_cpus)
    strategy = distribute.choose_strategy()
    replicas = strategy.num_replicas_in_sync
    batch_size, lr = distribute.scaled(args.batch_size, args.learning_rate, replicas, not args.no_scale_lr)
    print(
        f"distributed: {type(strategy).__name__} over {replicas} replicas; "
        f"global batch {batch_size} ({args.batch_size} per replica), learning rate {lr:.1e}"
    )
    return batch_size, lr, strategy.scope()


def _starting_point(args, learning_rate: float):
    """A fresh compiled network, or the one in --checkpoint with its history when resuming."""
    from cnnviz.model import build_model, compile_model

    if args.checkpoint:
        from cnnviz.checkpoint import load_checkpoint

        resumed = load_checkpoint(args.checkpoint)
        if resumed:
            model, history = resumed
            print(f"resuming from {args.checkpoint} after epoch {len(history)}")
            return model, history
    return compile_model(build_model(args.precision), learning_rate), []


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


def _hold_out(dataset, folder: Path):
    """`dataset` without the photos named like one in `folder`, and the names left out."""
    from cnnviz.dataset import hold_out

    if not folder.is_dir():
        raise CnnvizError(f"--exclude needs a folder, and {folder} is not one.")
    dataset, held_out = hold_out(dataset, {p.name for p in folder.iterdir()})
    print(f"held out {len(held_out):,} photos named as in {folder}")
    return dataset, held_out


def _validation_of(dataset, weights_path: Path):
    """The validation photos a weight file was chosen on, rebuilt from its card: the same
    held-out names, sizes and seed give the same split, so the card's figures can be checked."""
    from cnnviz.dataset import hold_out
    from cnnviz.split import split_dataset
    from cnnviz.cards import verified_card

    card = verified_card(weights_path)
    try:
        held_out, seed = set(card["data"]["held_out"]), card["data"]["seed"]
        sizes = card["split"]["train"], card["split"]["val"]
    except (KeyError, TypeError):
        raise CnnvizError(
            f"{weights_path.name} has no card with its split (data.seed, data.held_out, split): "
            "only weights saved by `cnnviz train --out` can be checked this way."
        ) from None
    split = split_dataset(hold_out(dataset, held_out)[0], *sizes, seed=seed)
    print(f"the validation side of {weights_path.name}'s split: {len(split.val):,} photos (seed {seed})")
    return split.val


def _trained_on(weights_path: Path | None, split, dataset) -> list[str] | None:
    """Every photo the weights this run saves will have been trained on: its own training side
    and, for a warm restart, what the file it starts from had been (None when that file's card
    does not say). Refuses a split whose validation photos that file was trained on: a
    val_accuracy over photos the weights have learned would flatter them."""
    from cnnviz.dataset import photo_names, unseen
    from cnnviz.cards import card_trained_on, verified_card

    mine = set(photo_names(split.train, dataset.root))
    if weights_path is None:
        return sorted(mine)
    card = verified_card(weights_path)
    seen = card_trained_on(card)
    if seen is None:
        print(f"note: {weights_path.name}'s card does not list the photos it was trained on, so this run's card cannot either")
        return None
    _, overlap = unseen(split.val, dataset.root, seen)
    if overlap:
        seed, sizes = (card.get("data") or {}).get("seed"), card.get("split") or {}
        raise CnnvizError(
            f"{overlap:,} of this run's {len(split.val):,} validation photos are among those {weights_path.name} "
            f"was trained on, so its val_accuracy would flatter it. Split as that file was: --seed {seed} "
            f"--train-samples {sizes.get('train')} --val-samples {sizes.get('val')}, with the same --exclude."
        )
    return sorted(mine | seen)


def _parent(weights_path: Path) -> dict:
    """What a `--weights` run starts from, read before training, since `--out` may replace that file.

    Its card's figures describe this run only; the parent's epochs and time are part of the
    final weights' cost, so the card keeps them here.
    """
    from cnnviz.cards import card_accuracy, sha256_of, verified_card

    if not weights_path.is_file():
        raise CnnvizError(f"--weights {weights_path} is not a file.")
    card = verified_card(weights_path)
    return {
        "file": weights_path.name,
        "sha256": sha256_of(weights_path),
        "epochs": card.get("epochs"),
        "training_seconds": card.get("training_seconds"),
        "val_accuracy": card_accuracy(card),
        "history": card.get("history"),
        "started_from": card.get("started_from"),
    }


def _card(args, dataset, split, history, held_out, plateau, parent=None, trained_on=None) -> dict:
    return {
        "data": {
            "root": str(dataset.root),
            "layout": dataset.layout,
            "counts": dataset.counts(),
            "seed": split.seed,
            "held_out": held_out,
        },
        "split": {"train": len(split.train), "val": len(split.val)},
        "recipe": {
            "optimizer": "RMSprop",
            "learning_rate": args.learning_rate,
            "batch_size": args.batch_size,
            "distributed": args.distribute,
            "augment": args.augment,
            "precision": args.precision,
            "halve_after": args.halve_after,
            "patience": args.patience,
            "loss": "binary_crossentropy",
        },
        "epochs": len(history),
        "training_seconds": round(sum(h["seconds"] for h in history)),
        "machine": _machine(),
        "epoch": history[-1]["epoch"],
        "val_accuracy": history[-1]["val_accuracy"],
        "best_epoch": plateau.best_epoch,
        "history": history,
        **({"started_from": parent} if parent else {}),
        **({"trained_on": trained_on} if trained_on is not None else {}),
    }


def _validate_in_float32(model, split) -> dict:
    """The validation photos scored the way every viewer of the file scores them: in float32
    (training under mixed_bfloat16 reports a bfloat16 val_accuracy), with the confusion matrix."""
    from cnnviz.evaluation import evaluate_items
    from cnnviz.model import build_model

    viewer = build_model()
    viewer.set_weights(model.get_weights())
    result = evaluate_items(viewer, split.val, batch_size=64)
    return {
        "n": result.n,
        "accuracy": result.accuracy,
        "confusion": result.confusion.tolist(),
        "confusion_layout": "rows: true cat, true dog; columns: predicted cat, predicted dog",
    }


def _machine() -> dict:
    import os
    import platform

    from cnnviz.backend import tf

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "system": platform.platform(),
        "tensorflow": tf.__version__,
    }


def cmd_convcheck(args) -> None:
    from cnnviz.inspect import convolution_check

    photo = _photo_or_chelsea(args.image)
    model, _ = _load_model(args)
    check = convolution_check(model, photo.network_input, args.filter)
    print(f"first-layer filter {check.filter_index}, compared with the network's own feature map:")
    for name, diff in check.max_abs_difference.items():
        print(f"  {name:<34} max abs difference {diff:.2e}")
    if check.dead:
        print(f"note: filter {check.filter_index}'s map is all zero on this image (ReLU cut every value), so all three match; try another --filter.")
    print("Keras's Conv2D is a cross-correlation: correlate2d, or convolve2d with the kernel flipped, reproduce it;")
    print("the tutorial's grayscale, unflipped check only looks alike.")


def _photo_or_chelsea(path):
    from cnnviz.images import load_photo

    if path is not None:
        return load_photo(path)
    from skimage import data

    from cnnviz.mosaic import to_png

    return load_photo(to_png(data.chelsea()))


def cmd_inspect(args) -> None:
    from cnnviz.report import photo_report

    photo = _photo_or_chelsea(args.image)
    model, _ = _load_model(args)
    report = photo_report(model, photo)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [_write(args.out / f"filters_{name}.png", report.filter_png(name)) for name in report.filters]
    for i, name in report.numbered_layers():
        written.append(_write(args.out / f"activations_{i:02d}_{name}.png", report.layer_png(name)))
    v = report.verdict
    print(f"{args.image}: {v.label} {v.probability:.2f}")
    print(f"wrote {len(written)} PNGs to {args.out}")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def cmd_download(args) -> None:
    from cnnviz.download import download_dataset

    result = download_dataset(args.dest)
    counts = result.dataset.counts()
    print(f"archive: {result.archive} (sha256 {result.sha256})")
    print(f"found {counts['cat']:,} cats, {counts['dog']:,} dogs, {len(result.dataset.skipped):,} skipped")
    print(f"dataset: {result.root}")


# --- shared pieces ---------------------------------------------------------------------


def _bar(total: int, desc: str, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr)


def _scan(folder: Path):
    from cnnviz.dataset import find_dataset

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
