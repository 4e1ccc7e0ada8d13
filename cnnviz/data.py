"""Find, validate and split a cats-and-dogs folder; feed it to the network with tf.data.

A dataset is a list of (path, label), never a copy of the photos: people arrive with the
Kaggle `train/` folder, Microsoft's `PetImages/Cat` + `PetImages/Dog`, or folders they made
themselves, and all of these are read where they lie. Every file is opened once by Pillow
during the scan, because the public archives hold empty, truncated and mislabelled files,
and a broken file found halfway through an epoch would cost the person their training run.
The scan only accepts what TensorFlow's decoder will also read, so the pipeline can trust it.

Scanning 20,000 photos takes seconds, so the result is cached on disk per folder, and a
file is checked again only when its size or modification time changes.

The scan and the split never import TensorFlow (the CLI and the app must start fast);
`make_pipeline` imports it when called.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import os
import random
import stat
import struct
import tempfile
import threading
import warnings
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from cnnviz import CLASS_NAMES
from cnnviz.errors import CnnvizError
from cnnviz.images import IMAGE_SIZE

log = logging.getLogger(__name__)

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_CLASS_FOLDERS = {"cat": 0, "cats": 0, "dog": 1, "dogs": 1}
_PARENT_FOLDERS = ("train", "petimages")  # Kaggle's download; Microsoft's archive
# What tf.io.decode_image reads correctly; Pillow reads more (TIFF, palette BMPs, ...).
_TF_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"}
_CACHE_VERSION = 1
_CHUNK = 64  # files per worker task: large enough to amortise the pool, small for progress
_PARALLEL_FROM = 1000  # files; below this, starting worker processes costs more than it saves


@dataclass
class Dataset:
    root: Path
    layout: str  # how the photos were found, in words a person reads
    items: list[tuple[str, int]]  # (absolute path, label) sorted by path; 0 cat, 1 dog
    skipped: list[tuple[str, str]]  # (path, why it is not used)
    digests: dict[str, str] = field(default_factory=dict)  # path -> sha256 of its bytes

    def counts(self) -> dict[str, int]:
        per_label = Counter(label for _, label in self.items)
        return {name: per_label[label] for label, name in enumerate(CLASS_NAMES)}


@dataclass
class Split:
    train: list[tuple[str, int]]
    val: list[tuple[str, int]]
    seed: int
    note: str | None = None  # set when the sizes asked for were not what was used
    # Decoded pixels of each side, kept for as long as this split is (see `decoded_images`):
    # the app trains one epoch per call, and each call would otherwise decode every JPEG again.
    decoded: dict = field(default_factory=dict, repr=False, compare=False)


# --- finding the photos -------------------------------------------------------------------


def find_dataset(
    folder: str | os.PathLike,
    progress: Callable[[int, int], None] | None = None,
    cache_dir: Path | None = None,
) -> Dataset:
    """Locate the labelled photos under `folder`, check every one, and report what was skipped.

    `progress(done, total)` is called from this thread while files are checked.
    """
    root = _existing_folder(folder)
    layout, candidates, skipped = _locate(root)
    cache_file = _cache_file(root, cache_dir)
    checks = _check_all([path for path, _ in candidates], _load_cache(cache_file), progress)
    _save_cache(cache_file, root, checks)
    items, digests = [], {}
    for path, label in candidates:
        reason, digest = checks[path][2:]
        if reason:
            skipped.append((path, reason))
        else:
            items.append((path, label))
            digests[path] = digest
    dataset = Dataset(root, layout, sorted(items), sorted(skipped), digests)
    _require_both_classes(dataset)
    return dataset


def _existing_folder(folder: str | os.PathLike) -> Path:
    path = Path(folder).expanduser()
    if not path.exists():
        raise CnnvizError(f"There is no folder at '{path}': check the path, or download the photos first.")
    if not path.is_dir():
        raise CnnvizError(f"'{path}' is a file, not a folder: give the folder that holds the photos.")
    return path.resolve()


def _locate(root: Path, look_inside: bool = True) -> tuple[str, list[tuple[str, int]], list[tuple[str, str]]]:
    """The layout's name, the (path, label) files to check, and files skipped by name alone."""
    subfolders = _subfolders(root)
    class_folders = [(path, _CLASS_FOLDERS[name]) for name, path in subfolders if name in _CLASS_FOLDERS]
    if class_folders:
        names = " + ".join(f"{path.name}/" for path, _ in class_folders)
        return f"class folders ({names})", *_class_folder_files(class_folders)
    candidates, skipped = _kaggle_files(root)
    if candidates:
        return "Kaggle flat (cat.N.jpg, dog.N.jpg)", candidates, skipped
    # Only one level down: a `train -> ..` link must not send the search round in circles.
    for name, path in subfolders if look_inside else ():
        if name in _PARENT_FOLDERS:
            try:
                layout, candidates, skipped = _locate(path, look_inside=False)
            except CnnvizError:
                continue
            has_test1 = any(other == "test1" for other, _ in subfolders)
            unlabelled = "; test1/ has no labels and is not used" if has_test1 else ""
            return f"{layout} in {path.name}/{unlabelled}", candidates, skipped
    raise CnnvizError(
        f"No cat or dog photos found in '{root}': expected cat.N.jpg and dog.N.jpg files, "
        "Cat/ and Dog/ (or cats/ and dogs/) folders, or a folder holding train/ or PetImages/."
    )


def _subfolders(root: Path) -> list[tuple[str, Path]]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise CnnvizError(f"The folder '{root}' could not be read ({exc.strerror}): check its permissions.") from exc
    return [(e.name.lower(), Path(e.path)) for e in entries if _is_dir(e)]


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _class_folder_files(class_folders: list[tuple[Path, int]]) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    candidates, skipped = [], []

    def unreadable(exc: OSError) -> None:
        skipped.append((str(exc.filename), f"a folder that could not be read ({exc.strerror})"))

    for folder, label in class_folders:
        # followlinks=False: a link back to a parent folder would otherwise loop forever.
        for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable, followlinks=False):
            for name in sorted(dirnames):
                if os.path.islink(os.path.join(dirpath, name)):
                    skipped.append((os.path.join(dirpath, name), "a link to a folder, not followed (links can loop)"))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                reason = _reason_not_image(name)
                if reason:
                    skipped.append((path, reason))
                else:
                    candidates.append((path, label))
    return candidates, skipped


def _kaggle_files(root: Path) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    candidates, skipped = [], []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if _is_dir(entry):
            continue
        label = _CLASS_FOLDERS.get(entry.name.split(".")[0].lower())
        reason = _reason_not_image(entry.name)
        if reason is None and label is None:
            reason = "the name does not start with cat. or dog., so its label is unknown"
        if reason:
            skipped.append((entry.path, reason))
        else:
            candidates.append((entry.path, label))
    return candidates, skipped


def _reason_not_image(name: str) -> str | None:
    if name.lower() == "thumbs.db":
        return "a Windows thumbnail cache (Thumbs.db), not a photo"
    extension = os.path.splitext(name)[1].lower()
    if extension not in EXTENSIONS:
        return f"not an image file (extension '{extension or 'none'}'; expected {', '.join(EXTENSIONS)})"
    return None


def _require_both_classes(dataset: Dataset) -> None:
    counts = dataset.counts()
    if not any(counts.values()):
        raise CnnvizError(
            f"None of the {len(dataset.skipped):,} files in '{dataset.root}' is a readable photo: "
            "see the skipped list for the reasons, or choose another folder."
        )
    for name, other in (("cat", "dog"), ("dog", "cat")):
        if counts[name] == 0:
            raise CnnvizError(
                f"'{dataset.root}' holds {counts[other]:,} {other} photos but no {name} photos: "
                f"add a {name.capitalize()}/ folder (or {name}.N.jpg files) beside them."
            )


# --- checking every file ------------------------------------------------------------------

# A check as stored in the cache: size, mtime_ns, reason (None if usable), sha256 (if usable).
Check = tuple[int, int, str | None, str | None]


def _check_all(
    paths: list[str], cached: dict[str, list], progress: Callable[[int, int], None] | None
) -> dict[str, Check]:
    checks, todo = {}, []
    for path in paths:
        size, mtime = _signature(path)
        old = cached.get(path)
        if old is not None and old[:2] == [size, mtime]:
            checks[path] = tuple(old)
        else:
            todo.append(path)
    done, total = len(checks), len(paths)
    if progress:
        progress(done, total)
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    for chunk, results in zip(chunks, _checked_chunks(chunks)):
        checks.update(zip(chunk, results))
        done += len(chunk)
        if progress:
            progress(done, total)
    return checks


def _checked_chunks(chunks: list[list[str]]) -> Iterator[list[Check]]:
    """Each chunk's checks, in order; in worker processes when there are enough files to pay
    for starting them. Threads measured no faster: Pillow's decoder holds the GIL."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(map(len, chunks)) < _PARALLEL_FROM:
        yield from map(_check_chunk, chunks)
        return
    # spawn, not fork: the app and the CLI may already run TensorFlow threads, which fork copies broken.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield from pool.map(_check_chunk, chunks)
    finally:  # a progress callback that raises (a Stop button) must not wait for the rest
        pool.shutdown(cancel_futures=True)


def _signature(path: str) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except OSError:  # a dangling link, or removed since the listing: _check_file says which
        return -1, -1
    return info.st_size, info.st_mtime_ns


def _check_chunk(paths: list[str]) -> list[Check]:
    return [(*_signature(path), *_check_file(path)) for path in paths]


def _check_file(path: str) -> tuple[str | None, str | None]:
    """(reason it is unusable or None, sha256 of its bytes or None)."""
    try:
        data = _read_regular_file(path)
    except FileNotFoundError:
        return "a broken link, or the file was removed during the scan", None
    except OSError as exc:
        return f"could not be read ({exc.strerror or exc})", None
    if data is None:
        return "not a regular file (a named pipe, socket or device under a photo's name)", None
    if not data:
        return "an empty file (0 bytes)", None
    reason = _reason_undecodable(data)
    return (reason, None) if reason else (None, hashlib.sha256(data).hexdigest())


def _read_regular_file(path: str) -> bytes | None:
    """The file's bytes, or None when it is not a regular file.

    Opened without blocking and checked on the open descriptor: reading a named pipe (a
    FIFO) under a photo's name would otherwise wait forever for a writer, and hang the scan.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read()
    finally:
        os.close(fd)


def _reason_undecodable(data: bytes) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EXIF and palette warnings say nothing about usability
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                if image_format in ("JPEG", "MPO"):
                    # Decoding at 1/8 scale still reads every byte, so truncation shows, and a
                    # 500x375 photo decodes several times faster.
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
                mode = image.mode
    except Image.DecompressionBombError:
        return "an image with too many pixels to be a photo (Pillow refuses it as a decompression bomb)"
    except Image.UnidentifiedImageError:
        return "not an image Pillow can read (a text or HTML file, or another format, saved under an image name)"
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        return f"a damaged or truncated image ({exc})"
    if image_format not in _TF_FORMATS:
        return f"a {image_format} image, which TensorFlow cannot decode: convert it to JPEG or PNG"
    if image_format == "BMP":
        return _reason_bmp(data, mode)
    return None


def _reason_bmp(data: bytes, mode: str) -> str | None:
    # TensorFlow reads 8-bit BMPs as gray and ignores their palette, and cannot read 1/4-bit ones.
    header_size = struct.unpack_from("<I", data, 14)[0]
    bits = struct.unpack_from("<H", data, 24 if header_size == 12 else 28)[0]
    if bits in (24, 32) or (bits == 8 and mode == "L"):
        return None
    return f"a {bits}-bit BMP, which TensorFlow cannot decode correctly: save it as JPEG or PNG"


# --- the scan cache -----------------------------------------------------------------------


def default_cache_dir() -> Path:
    """`$CNNVIZ_CACHE`, or ~/.cache/cnnviz: where scans and downloads are kept."""
    return Path(os.environ.get("CNNVIZ_CACHE") or Path.home() / ".cache" / "cnnviz")


def _cache_file(root: Path, cache_dir: Path | None) -> Path:
    key = hashlib.sha256(str(root).encode()).hexdigest()[:24]
    return Path(cache_dir or default_cache_dir()) / "scans" / f"{key}.json"


def _load_cache(cache_file: Path) -> dict[str, list]:
    try:
        stored = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    # A cache written by another version may have judged files by other rules.
    current = isinstance(stored, dict) and stored.get("version") == _CACHE_VERSION
    return stored.get("files", {}) if current else {}


def _save_cache(cache_file: Path, root: Path, checks: dict[str, Check]) -> None:
    """Write atomically, so an interrupted scan or a second app session never leaves half a file."""
    payload = json.dumps({"version": _CACHE_VERSION, "root": str(root), "files": checks})
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache_file.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(payload)
        os.replace(tmp.name, cache_file)
    except OSError as exc:  # a read-only home costs speed next time, not the scan
        log.warning("could not write the scan cache %s: %s", cache_file, exc)


# --- splitting ----------------------------------------------------------------------------


def hold_out(dataset: Dataset, names: set[str]) -> tuple[Dataset, list[str]]:
    """`dataset` without the photos whose file name is in `names`, and the names left out.

    Photos kept for a final test (the full-size originals of some training ids) must be
    neither trained nor validated on, or the test would flatter the network.
    """
    held_out = sorted(Path(path).name for path, _ in dataset.items if Path(path).name in names)
    kept = [(path, label) for path, label in dataset.items if Path(path).name not in names]
    return replace(dataset, items=kept), held_out


def photo_names(items: Iterable[tuple[str, int]], root: str | os.PathLike) -> list[str]:
    """Each photo's path relative to its dataset's root ("cat.12.jpg", "Dog/7.jpg"): the name a
    weight card lists it under, the same wherever the folder lives."""
    prefix = os.path.join(os.fspath(root), "")
    # String slicing, not Path: the app names a 6,400-photo validation side on a page rerun.
    return [
        (path[len(prefix):] if path.startswith(prefix) else os.path.basename(path)).replace(os.sep, "/")
        for path, _ in items
    ]


def unseen(items: list[tuple[str, int]], root: str | os.PathLike, seen: frozenset[str]) -> tuple[list[tuple[str, int]], int]:
    """`items` without the photos named in `seen` (as `photo_names` names them), and how many
    were left out: a network's accuracy on photos it was trained on would flatter it."""
    kept = [item for item, name in zip(items, photo_names(items, root)) if name not in seen]
    return kept, len(items) - len(kept)


def split_dataset(dataset: Dataset, train_size: int = 16_000, val_size: int = 6_400, seed: int = 13) -> Split:
    """A seeded, class-balanced train/validation split; copies of one photo stay on one side.

    The defaults are the tutorial's 16,000 and 6,400. A folder too small for them gets both
    sizes scaled down in proportion, and `note` says what was used.
    """
    if train_size < 2 or val_size < 2:
        raise CnnvizError(
            f"Asked for {train_size} training and {val_size} validation images: "
            "each needs at least 2 (one cat and one dog)."
        )
    counts = dataset.counts()
    for name, n in counts.items():
        if n == 0:
            raise CnnvizError(f"The dataset has no {name} photos, so it cannot be split: add some and scan again.")
    per_train, per_val = _fit(train_size // 2, val_size // 2, min(counts.values()))
    groups = _duplicate_groups(dataset)
    random.Random(seed).shuffle(groups)
    train, val = _assign(groups, per_train, per_val)
    note = None
    if (len(train), len(val)) != (train_size, val_size):
        note = (
            f"The folder holds {counts['cat']:,} cats and {counts['dog']:,} dogs; using {len(train):,} train "
            f"and {len(val):,} validation images (asked for {train_size:,} and {val_size:,})."
        )
    return Split(sorted(train), sorted(val), seed, note)


def _fit(per_train: int, per_val: int, available: int) -> tuple[int, int]:
    """Per-class sizes that fit in `available` photos per class, keeping their ratio."""
    if per_train + per_val <= available:
        return per_train, per_val
    if available < 2:
        raise CnnvizError(
            f"A class has only {available} photo, too few to split: each class needs at least 2 "
            "(one for training, one for validation)."
        )
    scale = available / (per_train + per_val)
    fitted_train = min(max(1, int(per_train * scale)), available - 1)
    return fitted_train, max(1, int(per_val * scale))


def _duplicate_groups(dataset: Dataset) -> list[list[tuple[str, int]]]:
    """Items grouped by their bytes' digest, in a fixed order so a seed means one split."""
    by_digest = defaultdict(list)
    for path, label in dataset.items:
        by_digest[dataset.digests.get(path, path)].append((path, label))
    return sorted(by_digest.values())


def _assign(groups: list[list[tuple[str, int]]], per_train: int, per_val: int) -> tuple[list, list]:
    """Fill each side to its per-class size, whole groups at a time, then even out the classes."""
    sides = [([], Counter(), per_train), ([], Counter(), per_val)]
    for group in groups:
        need = Counter(label for _, label in group)
        for items, have, size in sides:
            if all(have[label] + n <= size for label, n in need.items()):
                items.extend(group)
                have.update(need)
                break
    return _balanced(sides[0][0]), _balanced(sides[1][0])


def _balanced(side: list[tuple[str, int]]) -> list[tuple[str, int]]:
    # Duplicates that did not fit can leave a class short; drop the other's last additions.
    counts = Counter(label for _, label in side)
    keep = {label: min(counts[0], counts[1]) for label in (0, 1)}
    kept = []
    for path, label in side:
        if keep[label] > 0:
            keep[label] -= 1
            kept.append((path, label))
    return kept


# --- the input pipeline -------------------------------------------------------------------

_CACHE_BUDGET = 4 * 2**30  # bytes of decoded uint8 pixels held in memory at most
_SHUFFLE_AFTER_CACHE = 2048  # reshuffles the cached order each epoch without a long first wait
_PREFETCH = 2  # elements (batches, or photos while decoding) ready ahead of their consumer


def make_pipeline(
    items: Iterable[tuple[str, int]],
    batch_size: int = 32,
    training: bool = False,
    augment: bool = False,
    seed: int = 13,
    cache: bool = True,
):
    """A tf.data.Dataset of (images (b, 150, 150, 3) float32 in [0, 1], labels (b,) float32).

    Photos are squashed to 150x150 (no aspect kept, as in the tutorial and cnnviz.images).
    `training` shuffles with `seed`; `augment` adds flips, rotations and zooms, and only
    ever applies with `training`, so validation batches are never altered. Decoded pixels
    are kept in memory as uint8 (a quarter of float32) when they fit, so later epochs skip
    the JPEG decoding.

    The scan has already rejected every file TensorFlow cannot decode. A file changed or
    removed since then is dropped by `ignore_errors`, which logs a warning for each one,
    rather than ending the epoch.
    """
    import tensorflow as tf

    items = list(items)
    if not items:
        raise CnnvizError("There are no images to feed the network: choose a folder with cat and dog photos.")
    # As bytes: a file name that is not UTF-8 (copied from an old Windows zip, say) is a
    # valid Linux path, but a str tensor cannot hold it.
    paths = tf.constant([os.fsencode(path) for path, _ in items])
    labels = tf.constant([float(label) for _, label in items], dtype=tf.float32)
    in_memory = cache and _fits_in_memory(len(items))
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if training:
        # A cache replays its first order, so with one the file order is shuffled once here
        # and reshuffled after the cache; without one, every epoch gets a fresh order here.
        ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=not in_memory)
    ds = ds.map(_decode_resized, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)
    if in_memory:
        ds = ds.cache()
        if training:
            ds = ds.shuffle(min(len(items), _SHUFFLE_AFTER_CACHE), seed=seed + 1)
    ds = ds.batch(batch_size).map(_to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment:
        augmenter = _augmenter(seed)
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotune(ds.prefetch(_PREFETCH))


# --- decoded images shared across epochs, calls and sessions ---------------------------------


class DecodedImages:
    """The decoded, resized uint8 pixels of one list of photos, filled as epochs read them.

    Only pixels, labels and paths: never a model, so sessions that split the same folder the
    same way share one copy (see `decoded_images`) without seeing each other's training.
    A slot is written once, by the first epoch that reads its photo, and read-only after;
    two sessions decoding the same photo at once write the same bytes.
    """

    def __init__(self, items: list[tuple[str, int]]):
        self.paths = [path for path, _ in items]
        self.labels = np.array([float(label) for _, label in items], dtype="float32")
        self.images = np.empty((len(items), IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8")  # pages committed on write
        self.ready = np.zeros(len(items), dtype=bool)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def nbytes(self) -> int:
        return int(self.ready.sum()) * IMAGE_SIZE * IMAGE_SIZE * 3

    def batches(self, order: Iterable[int], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(uint8 images, float32 labels) in `order`, decoding the photos not yet decoded.

        Photos that cannot be read are left out, as `make_pipeline`'s `ignore_errors` does,
        so an epoch ends early exactly when it would without the cache.
        """
        order = np.asarray(list(order), dtype="int64")
        missing = order[~self.ready[order]]
        fresh = iter(_decode_stream([self.paths[i] for i in missing], missing)) if len(missing) else iter(())
        pending = next(fresh, None)
        chosen: list[int] = []
        for i in order:
            if not self.ready[i]:
                if pending is not None and pending[0] == i:
                    self.images[i] = pending[1]
                    self.ready[i] = True
                    pending = next(fresh, None)
                else:
                    continue  # could not be read: dropped from this epoch
            chosen.append(int(i))
            if len(chosen) == batch_size:
                yield self.images[chosen], self.labels[chosen]
                chosen = []
        if chosen:
            yield self.images[chosen], self.labels[chosen]


def _decode_stream(paths: list[str], indices: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(index, uint8 image) for each readable path, in order, decoded in parallel by tf.data."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((tf.constant([os.fsencode(p) for p in paths]), tf.constant(indices)))
    ds = ds.map(_decode_resized, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)
    for image, index in without_autotune(ds.prefetch(_PREFETCH)).as_numpy_iterator():
        yield int(index), image


_decoded_lock = threading.Lock()
_decoded_shared: "weakref.WeakValueDictionary[str, DecodedImages]" = weakref.WeakValueDictionary()


def decoded_images(items: Iterable[tuple[str, int]]) -> DecodedImages:
    """The one `DecodedImages` for this exact list of (path, label), shared while anyone holds it.

    Keyed by the list itself (paths, labels, order), so two sessions that split the same
    folder with the same seed share one copy of the pixels; when the last holder lets go
    (a Split's `decoded` holds it for as long as the split lives), the memory is freed.
    """
    items = list(items)
    digest = hashlib.sha256()
    for path, label in items:
        digest.update(os.fsencode(path) + b"\0" + str(int(label)).encode() + b"\n")
    key = digest.hexdigest()
    with _decoded_lock:
        found = _decoded_shared.get(key)
        if found is None:
            found = DecodedImages(items)
            _decoded_shared[key] = found
        return found


def cached_pipeline(decoded: DecodedImages, batch_size: int, order_seed: int | None = None, augment: bool = False, seed: int = 13):
    """A one-epoch tf.data.Dataset over `decoded`, the same batches `make_pipeline` makes.

    `order_seed` None keeps the list's order (validation); otherwise the photos are
    permuted by it (pass something that changes every epoch, e.g. (seed, epoch)).
    """
    return releasable_pipeline(decoded, batch_size, order_seed, augment, seed)[0]


def releasable_pipeline(decoded: DecodedImages, batch_size: int, order_seed=None, augment: bool = False, seed: int = 13):
    """(`cached_pipeline`'s dataset, release): after release() the dataset no longer holds the pixels.

    TensorFlow keeps a from_generator's generator alive after the dataset is gone, and with
    it whatever the generator refers to; release() lets the pixels go when the last split does.
    """
    import tensorflow as tf

    n = len(decoded)
    order = np.arange(n) if order_seed is None else np.random.default_rng(order_seed).permutation(n)
    source = [decoded]

    def generate():
        held = source[0]
        if held is None:
            raise CnnvizError("This epoch's pipeline was released; make a new one.")
        yield from held.batches(order, batch_size)

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 3), tf.uint8),
            tf.TensorSpec((None,), tf.float32),
        ),
    )
    ds = ds.map(_to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmenter = _augmenter(seed)
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotune(ds.prefetch(_PREFETCH)), lambda: source.__setitem__(0, None)


def without_autotune(ds):
    """`ds` with tf.data's autotuner off; its parallel maps then keep one call per core.

    The autotuner's thread sleeps in doubling periods (10 ms, 20 ms, ... 5.12 s, ...), and
    deleting an iterator sometimes waits for the current period to end instead of cutting
    it short: up to seconds with both cores idle, after every epoch's training pass, its
    validation pass and its decoding. `benchmarks/iterator_teardown.py` measures that wait.
    For these pipelines (a decode per photo, a cast, an augmentation), one call per core
    and a fixed prefetch are what the autotuner would settle on anyway.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _fits_in_memory(n: int) -> bool:
    import psutil

    needed = n * IMAGE_SIZE * IMAGE_SIZE * 3
    return needed <= min(_CACHE_BUDGET, psutil.virtual_memory().available // 2)


def _decode_resized(path, label):
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    # antialias=True widens the kernel when shrinking, as Pillow's BILINEAR in cnnviz.images does.
    resized = tf.image.resize(image, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8), label


def _to_unit_range(images, labels):
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 255.0, labels


def _augmenter(seed: int):
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.08, seed=seed + 1),
            keras.layers.RandomZoom(0.1, seed=seed + 2),
        ],
        name="augmentation",
    )
