"""download_dataset over real HTTP, from a server on 127.0.0.1: no internet is used.

The archive served is a small one built here in the PetImages layout, with the kinds of
broken files Microsoft's real archive holds.
"""

import hashlib
import io
import json
import socket
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from cnnviz.download import ARCHIVE_URL, download_dataset
from cnnviz.errors import CnnvizError

ARCHIVE = Path(ARCHIVE_URL).name  # kagglecatsanddogs_5340.zip


def _png(jpeg: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, "PNG")
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return out.getvalue()


@pytest.fixture(scope="module")
def petimages_zip(data_root) -> bytes:
    train = data_root / "train"
    members = {f"PetImages/{c.capitalize()}/{i}.jpg": (train / f"{c}.{i}.jpg").read_bytes() for c in ("cat", "dog") for i in range(4)}
    members |= {
        "PetImages/Cat/666.jpg": b"",
        "PetImages/Dog/11702.jpg": b"Not an image: the real archive's Dog/11702.jpg is unreadable too.\n",
        "PetImages/Cat/Thumbs.db": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 thumbnails",
        "PetImages/Dog/Thumbs.db": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 thumbnails",
        "PetImages/Dog/12.jpg": _png((train / "dog.12.jpg").read_bytes()),  # not JFIF, still a photo
        "readme[1].txt": b"Microsoft's readme",
    }
    return _zip(members)


class _Server:
    """Serves a folder; counts the GET requests per path."""

    def __init__(self, folder: Path):
        self.folder, self.requests = folder, []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture()
def server(tmp_path):
    served = _Server(tmp_path / "www")
    served.folder.mkdir()
    yield served
    served.close()


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNVIZ_DOWNLOAD_URL", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def test_download_unzip_and_validate(server, petimages_zip, tmp_path):
    (server.folder / ARCHIVE).write_bytes(petimages_zip)
    calls = []
    result = download_dataset(tmp_path / "dl", url=server.url(ARCHIVE), progress=lambda d, t: calls.append((d, t)))

    assert result.archive == tmp_path / "dl" / ARCHIVE
    assert result.sha256 == hashlib.sha256(petimages_zip).hexdigest()
    record = json.loads((tmp_path / "dl" / f"{ARCHIVE}.json").read_text())
    assert record["sha256"] == result.sha256 and record["url"] == server.url(ARCHIVE)
    assert (result.root / "PetImages" / "Cat").is_dir()
    assert (len(petimages_zip), len(petimages_zip)) in calls  # the download's bytes

    dataset = result.dataset
    assert dataset.counts() == {"cat": 4, "dog": 5}
    reasons = {Path(p).relative_to(result.root / "PetImages").as_posix(): r for p, r in dataset.skipped}
    assert set(reasons) == {"Cat/666.jpg", "Dog/11702.jpg", "Cat/Thumbs.db", "Dog/Thumbs.db"}
    assert "empty" in reasons["Cat/666.jpg"]
    assert "not an image" in reasons["Dog/11702.jpg"]
    assert "Thumbs.db" in reasons["Cat/Thumbs.db"]
    assert str(result.root / "PetImages" / "Dog" / "12.jpg") in dict(dataset.items)

    again = download_dataset(tmp_path / "dl", url=server.url(ARCHIVE), progress=False)
    assert server.requests == [f"/{ARCHIVE}"]
    assert (again.archive, again.sha256, again.root, again.dataset) == (
        result.archive,
        result.sha256,
        result.root,
        result.dataset,
    )


def test_environment_variable_replaces_the_default_url(server, petimages_zip, tmp_path, monkeypatch):
    (server.folder / "mirror.zip").write_bytes(petimages_zip)
    monkeypatch.setenv("CNNVIZ_DOWNLOAD_URL", server.url("mirror.zip"))
    result = download_dataset(tmp_path / "dl", progress=False)
    assert server.requests == ["/mirror.zip"]
    assert result.dataset.counts() == {"cat": 4, "dog": 5}


def test_a_download_that_is_not_a_zip_is_removed_and_refused(server, tmp_path):
    (server.folder / ARCHIVE).write_text("<html>Sign in to the hotel wifi</html>")
    for attempt in (1, 2):
        with pytest.raises(CnnvizError, match="not a readable zip"):
            download_dataset(tmp_path / "dl", url=server.url(ARCHIVE), progress=False)
        assert len(server.requests) == attempt  # removed, so the next try downloads again
    assert not (tmp_path / "dl" / ARCHIVE).exists()


def test_a_zip_without_petimages_is_refused(server, tmp_path):
    (server.folder / ARCHIVE).write_bytes(_zip({"holiday/beach.jpg": b"..."}))
    with pytest.raises(CnnvizError, match="PetImages/Cat or PetImages/Dog"):
        download_dataset(tmp_path / "dl", url=server.url(ARCHIVE), progress=False)


def test_missing_file_on_the_server(server, tmp_path):
    with pytest.raises(CnnvizError, match="404.*CNNVIZ_DOWNLOAD_URL"):
        download_dataset(tmp_path / "dl", url=server.url("gone.zip"), progress=False)


def test_unreachable_server(tmp_path):
    with socket.socket() as s:  # a port nobody listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CnnvizError, match="check the internet connection"):
        download_dataset(tmp_path / "dl", url=f"http://127.0.0.1:{port}/{ARCHIVE}", progress=False)
