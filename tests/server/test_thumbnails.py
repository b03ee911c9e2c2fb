"""Thumbnails on the requester's page, made by a bounded child process, never by the server.

The page's images are checked over loopback HTTP on a real ``python -m server``; the thumbnails'
bytes are decoded here, in the test, never in the server. The child's bounds are checked on the
worker itself, with limits small enough to trip.
"""

from __future__ import annotations

import hashlib
import html
import io
import random
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from PIL import Image

from server.thumbnails import THUMBNAIL_SIZE, Thumbnailer, ThumbnailLimits
from tests.fixtures.server import ServerProcess, database_for
from tests.fixtures.waiting import wait_until
from tests.server.helpers import api, make_bundle, noisy_png, png_bytes, submit

IMG_RE = re.compile(r'<a href="([^"]+)"><img src="([^"]+)"')


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def crafted_png(width: int, height: int) -> bytes:
    """A PNG whose chunks, sizes and checksums are all right (it passes the header checks),
    but whose compressed pixels are noise: only a decoder finds out, and fails."""
    noise = random.Random(7).randbytes(64 * 1024)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", noise) + _chunk(b"IEND", b"")


def flat_png(width: int, height: int) -> bytes:
    """A real, valid PNG of one colour: tiny on disk, ``width × height × 3`` bytes once decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (width * 3)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


class Desk:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.kiosk = server.token("submitter", site="north")

    def report(self, images: list[bytes]) -> dict[str, Any]:
        response = submit(self.server, self.kiosk, make_bundle(images=images))
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    def page_url(self, ticket: dict[str, Any]) -> str:
        parts = urlsplit(ticket["url"])
        return f"{self.server.url}{parts.path}?{parts.query}"

    def images(self, ticket: dict[str, Any]) -> list[tuple[str, str]]:
        """(link, src) of each image on the page, as absolute URLs."""
        page_url = self.page_url(ticket)
        response = requests.get(page_url, timeout=10)
        assert response.status_code == 200
        base = page_url.rsplit("/", 1)[0] + "/"
        return [(base + html.unescape(a), base + html.unescape(src)) for a, src in IMG_RE.findall(response.text)]


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[Desk]:
    server = ServerProcess(
        tmp_path_factory.mktemp("thumbs") / "data",
        extra_args=["--link-guess-rate", "0", "--answer-rate", "0"],
        database=database_for(server_engine, request),
    )
    try:
        yield Desk(server.start())
    finally:
        server.stop()


def test_after_a_submission_the_page_shows_thumbnails_that_link_to_the_full_images(desk: Desk) -> None:
    shots = [noisy_png(1920, 1080, seed=1), png_bytes(1200, 1600, seed=2)]
    ticket = desk.report(shots)

    # Full images until the child has made the thumbnails (the page never waits for it), then thumbnails.
    assert len(desk.images(ticket)) == 2
    wait_until(lambda: all("/thumbs/" in src for _link, src in desk.images(ticket)), "thumbnails on the page", 60)

    for (link, src), original in zip(desk.images(ticket), shots, strict=True):
        thumb = requests.get(src, timeout=10)
        assert thumb.status_code == 200
        assert thumb.headers["content-type"] == "image/webp"
        assert len(thumb.content) < len(original) / 4
        with Image.open(io.BytesIO(thumb.content)) as image:
            image.load()
            assert image.format == "WEBP"
            assert max(image.size) <= THUMBNAIL_SIZE
            assert max(image.size) >= THUMBNAIL_SIZE - 1
        # A tap opens the full image, as sent.
        assert "/files/" in link
        assert requests.get(link, timeout=10).content == original
    # Made by the child: the server process still maps no image decoder.
    assert desk.server.pid is not None
    mapped = {Path(region.path).name for region in psutil.Process(desk.server.pid).memory_maps()}
    assert not {name for name in mapped if name.startswith(("_imaging", "_webp", "libwebp", "libjpeg", "libpng"))}


def thumbnail_file(server: ServerProcess, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return server.data_dir / "thumbs" / digest[:2] / f"{digest}-{THUMBNAIL_SIZE}.webp"


def test_a_reports_and_an_answers_images_get_thumbnails_before_the_page_is_opened(desk: Desk) -> None:
    shot = png_bytes(1600, 1000, seed=8)
    ticket = desk.report([shot])
    # Woken by the store's commit, not by a page view: nobody has opened the page yet.
    wait_until(thumbnail_file(desk.server, shot).is_file, "the screenshot's thumbnail on disk", 60)
    assert "/thumbs/" in desk.images(ticket)[0][1]

    photo = noisy_png(1000, 1400, seed=9)
    answer = api(
        desk.server,
        desk.kiosk,
        "POST",
        f"/tickets/{ticket['id']}/answer",
        headers={"Idempotency-Key": "thumb-answer-0001"},
        data={"text": "here it is"},
        files=[("photo", ("photo.png", photo, "image/png"))],
    )
    assert answer.status_code == 201, answer.text
    wait_until(thumbnail_file(desk.server, photo).is_file, "the answer photo's thumbnail on disk", 60)
    images = desk.images(ticket)
    assert len(images) == 2
    assert all("/thumbs/" in src for _link, src in images)
    # The answer's photo, in the timeline: the portrait one, linked to the photo as sent.
    sizes = {}
    for link, src in images:
        with Image.open(io.BytesIO(requests.get(src, timeout=10).content)) as image:
            sizes[requests.get(link, timeout=10).content] = image.size
    assert sizes == {photo: (round(1000 * THUMBNAIL_SIZE / 1400), THUMBNAIL_SIZE), shot: (THUMBNAIL_SIZE, 300)}


def test_a_crafted_image_gets_no_thumbnail_is_logged_once_and_the_server_lives(desk: Desk) -> None:
    crafted = crafted_png(1600, 1200)
    good = png_bytes(800, 600, seed=3)
    ticket = desk.report([crafted, good])

    wait_until(lambda: "/thumbs/" in desk.images(ticket)[1][1], "the good image's thumbnail", 60)
    # The page asked for both at its first view; by now the child has answered on the crafted one too.
    log = desk.server.log_path
    wait_until(lambda: "no thumbnail for blob" in log.read_text(), "the failure in the log", 30)
    for _ in range(3):
        crafted_src = desk.images(ticket)[0][1]
        assert "/files/" in crafted_src
        assert requests.get(crafted_src, timeout=10).content == crafted
    assert log.read_text().count("no thumbnail for blob") == 1
    assert desk.server.is_running()
    assert requests.get(f"{desk.server.url}/healthz", timeout=10).status_code == 200


def test_no_thumbnail_route_serves_what_is_not_made_or_not_this_tickets(desk: Desk) -> None:
    ticket = desk.report([crafted_png(640, 480)])
    link, _src = desk.images(ticket)[0]
    missing = requests.get(link.replace("/files/", "/thumbs/"), timeout=10)
    assert missing.status_code == 404
    assert "image" not in missing.headers["content-type"]


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads the child's limits (Linux)")
def test_the_child_is_bounded_and_an_image_past_its_memory_limit_gets_no_thumbnail(tmp_path: Path) -> None:
    blobs = tmp_path / "sources"
    blobs.mkdir()
    small = blobs / "small.png"
    small.write_bytes(png_bytes(900, 700, seed=4))
    # 6000 × 6000 × 3 bytes = 108 MB decoded: over a 96 MB address space, fine under the default.
    bomb = blobs / "bomb.png"
    bomb.write_bytes(flat_png(6000, 6000))
    limits = ThumbnailLimits(memory_mb=96, cpu_seconds=3, wall_seconds=30.0)
    thumbnailer = Thumbnailer(tmp_path / "data", limits)
    small_key, bomb_key = "a" * 64, "b" * 64
    try:
        thumbnailer.want(small_key, small)
        wait_until(lambda: thumbnailer.existing(small_key) is not None, "the small image's thumbnail", 30)
        pid = thumbnailer.child_pid
        assert pid is not None
        child = psutil.Process(pid)
        assert child.rlimit(psutil.RLIMIT_AS) == (96 * 1024 * 1024, 96 * 1024 * 1024)
        soft_cpu, hard_cpu = child.rlimit(psutil.RLIMIT_CPU)
        assert 0 < soft_cpu <= limits.cpu_seconds + 2
        assert hard_cpu != psutil.RLIM_INFINITY

        thumbnailer.want(bomb_key, bomb)
        wait_until(lambda: thumbnailer.failed(bomb_key), "the bomb refused", 30)
        assert thumbnailer.existing(bomb_key) is None

        # The next image is made all the same (a new child when the old one died).
        again = blobs / "again.png"
        again.write_bytes(png_bytes(640, 640, seed=5))
        thumbnailer.want("c" * 64, again)
        wait_until(lambda: thumbnailer.existing("c" * 64) is not None, "a thumbnail after the bomb", 30)
    finally:
        thumbnailer.close()


def test_the_child_is_killed_past_its_time_bound(tmp_path: Path) -> None:
    # A big real image with a wall-clock bound far below what decoding it takes.
    source = tmp_path / "big.png"
    source.write_bytes(noisy_png(3000, 2000, seed=6))
    thumbnailer = Thumbnailer(tmp_path / "data", ThumbnailLimits(wall_seconds=0.05))
    try:
        thumbnailer.want("d" * 64, source)
        wait_until(lambda: thumbnailer.failed("d" * 64), "the slow image given up", 30)
        assert thumbnailer.existing("d" * 64) is None
        assert thumbnailer.child_pid is None
    finally:
        thumbnailer.close()
