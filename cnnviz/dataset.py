"""Find and check the labelled cat and dog photos in a folder, and name them.

A dataset is a list of (path, label), never a copy of the photos: people arrive with the
Kaggle `train/` folder, Microsoft's `PetImages/Cat` + `PetImages/Dog`, or folders they made
themselves, and all of these are read where they lie. Every file is opened once by Pillow
during the scan, because the public archives hold empty, truncated and mislabelled files,
and a broken file found halfway through an epoch would cost the person their training run.
The scan only accepts what TensorFlow's decoder will also read, so cnnviz.pipeline can trust it.

Scanning 20,000 photos takes seconds, so the result is cached on disk per folder, and a
file is checked again only when its size or modification time changes.

Photos are named relative to their folder, as a weight card lists them, so the photos a
network was trained on can be left out of a test wherever the folder lives. Nothing here
imports TensorFlow: the CLI and the app must start fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import os
import stat
import struct
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from PIL import Image

from cnnviz import CLASS_NAMES
from cnnviz.errors import CnnvizError

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

    @cached_property
    def key(self) -> int:
        """Two datasets with equal keys hold the same photos in the same order, so what was computed
        for one (a memo's entry) is right for the other. An id() would not do: Python gives a freed
        object's id to the next one made."""
        return hash((str(self.root), tuple(self.items)))

    def counts(self) -> dict[str, int]:
        per_label = Counter(label for _, label in self.items)
        return {name: per_label[label] for label, name in enumerate(CLASS_NAMES)}


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


# --- leaving out photos by name -----------------------------------------------------------


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

