"""Fetch Microsoft's cats-and-dogs archive (the full 25,000 PetImages), unzip it, validate it.

The archive is 786 MB and holds known broken files (an empty Cat/666.jpg, a Dog/11702.jpg
that is not an image, Thumbs.db files), so every step is kept once done: pooch downloads
to a temporary name and keeps the file, its sha256 and integrity check are recorded in a
JSON file beside it, the unzipped folder carries a marker, and the scan has its own cache.
A second call costs about as much as a cached scan. The broken files come back in the
dataset's skipped list, with reasons, rather than as an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pooch
import requests
from tqdm import tqdm

from cnnviz.dataset import Dataset, default_cache_dir, find_dataset
from cnnviz.errors import CnnvizError

ARCHIVE_URL = (
    "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
)
_CLASS_PREFIXES = ("PetImages/Cat/", "PetImages/Dog/")
_MARKER = ".cnnviz-extracted"  # holds the archive's sha256 once extraction has finished
_CHUNK = 2**20  # bytes per read: one progress call per MiB, not per KiB


@dataclass
class DownloadResult:
    archive: Path  # the zip as downloaded
    sha256: str  # of the zip, also recorded in <archive>.json
    root: Path  # the unzipped folder, holding PetImages/
    dataset: Dataset


def download_dataset(
    dest: Path | None = None,
    url: str = ARCHIVE_URL,
    progress: bool | Callable[[int, int], None] = True,
) -> DownloadResult:
    """Download (once), check, unzip (once) and scan the archive under `dest`.

    `dest` defaults to `downloads/` in cnnviz's cache folder ($CNNVIZ_CACHE or
    ~/.cache/cnnviz). `$CNNVIZ_DOWNLOAD_URL` replaces the default URL, for a mirror.
    `progress`: True draws tqdm bars; a callable gets `(done, total)`, first in bytes
    downloaded, then in files checked; False is silent.
    """
    dest = Path(dest).expanduser() if dest else default_cache_dir() / "downloads"
    if url == ARCHIVE_URL:
        url = os.environ.get("CNNVIZ_DOWNLOAD_URL") or url
    archive = _fetch(url, dest, progress)
    sha256 = _checked_sha256(archive, url)
    root = _extract(archive, sha256)
    dataset = find_dataset(root, progress=_scan_progress(progress))
    return DownloadResult(archive, sha256, root, dataset)


def _fetch(url: str, dest: Path, progress: bool | Callable[[int, int], None]) -> Path:

    name = os.path.basename(urlparse(url).path) or "petimages.zip"
    bar = progress if isinstance(progress, bool) else _PoochProgress(progress)
    downloader = pooch.HTTPDownloader(progressbar=bar, chunk_size=_CHUNK, timeout=60)
    try:
        # No known hash: Microsoft publishes none. The one seen first is recorded instead.
        return Path(pooch.retrieve(url, known_hash=None, fname=name, path=dest, downloader=downloader))
    except requests.RequestException as exc:
        raise CnnvizError(f"Could not download {url} ({_why(exc)}): {_advice(exc)}") from exc
    except OSError as exc:
        raise CnnvizError(f"Could not save the download in '{dest}' ({exc}): free some space or choose another folder.") from exc


def _why(exc: Exception) -> str:

    if exc.response is not None:
        return f"the server answered {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    return type(exc).__name__


def _advice(exc: Exception) -> str:
    by_hand = "download the archive in a browser, unzip it, and choose its folder."
    if exc.response is not None:  # reached a server, which refused: the address is what is wrong
        return f"the file may have moved; set CNNVIZ_DOWNLOAD_URL to a working address, or {by_hand}"
    return f"check the internet connection, or {by_hand}"


class _PoochProgress:
    """The progress-bar object pooch drives (total, update, reset, close), as progress(done, total)."""

    def __init__(self, progress: Callable[[int, int], None]):
        self.progress, self.total, self.done = progress, 0, 0

    def update(self, n: int) -> None:
        # pooch counts whole chunks, so the last one overshoots the size.
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        self.progress(self.done, self.total)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def _checked_sha256(archive: Path, url: str) -> str:
    """The archive's sha256, after checking it once; the record beside it spares a re-read."""
    record_file = archive.with_name(archive.name + ".json")
    info = archive.stat()
    try:
        record = json.loads(record_file.read_text())
        if (record["bytes"], record["mtime_ns"]) == (info.st_size, info.st_mtime_ns):
            return record["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sha256 = _sha256(archive)
    _check_zip(archive)
    record = {"url": url, "sha256": sha256, "bytes": info.st_size, "mtime_ns": info.st_mtime_ns}
    _write_atomically(record_file, json.dumps(record, indent=2))
    return sha256


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_zip(archive: Path) -> None:
    """Raise CnnvizError, removing the file so the next try downloads it again, if it is not the archive."""
    problem = _zip_problem(archive)
    if problem:
        archive.unlink(missing_ok=True)
        raise CnnvizError(f"The downloaded file {archive.name} {problem}; it was removed: try again, or check the URL.")


def _zip_problem(archive: Path) -> str | None:
    try:
        with zipfile.ZipFile(archive) as zf:
            damaged = zf.testzip()
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"is not a readable zip archive ({exc})"
    if damaged:
        return f"has a damaged member ({damaged})"
    missing = [p.rstrip("/") for p in _CLASS_PREFIXES if not any(n.startswith(p) for n in names)]
    if missing:
        return f"does not contain {' or '.join(missing)}, so it is not Microsoft's cats and dogs archive"
    return None


def _extract(archive: Path, sha256: str) -> Path:
    """Unzip beside the archive, into a temporary folder renamed into place when complete."""
    target = archive.with_suffix("")
    marker = target / _MARKER
    if marker.is_file() and marker.read_text().strip() == sha256:
        return target
    tmp = Path(tempfile.mkdtemp(dir=archive.parent, prefix=".unzip-"))
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        (tmp / _MARKER).write_text(sha256)
        if target.exists():  # an extraction of another archive, or one cut short
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError as exc:
        raise CnnvizError(f"Could not unzip {archive.name} into '{target}' ({exc}): free some space and try again.") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when the rename succeeded
    return target


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def _scan_progress(progress: bool | Callable[[int, int], None]) -> Callable[[int, int], None] | None:
    if callable(progress):
        return progress
    if not progress:
        return None
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or tqdm(total=total, desc="checking images", unit="file")
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    return update
