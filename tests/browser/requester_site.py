"""A real server with reports in it, as a person's phone and a technician see it.

Shared by the browser tests, docs/screenshots_requester.py and bench/requester_page.py:
reports go in through the API a kiosk uses (a submitter token, the person's language in
Accept-Language), technicians act through the API technician mode uses.
"""

from __future__ import annotations

import io
import random
from typing import Any

import requests
from PIL import Image, ImageDraw

from tests.fixtures.server import ServerProcess
from tests.server.helpers import api, make_bundle, make_report, submit


def screenshot_png(width: int, height: int, seed: int, *, title: str = "Print queue", grain: bool = False) -> bytes:
    """A desktop-like picture (a window, a dialog, lines of text) with some noise, as a real capture has.

    ``grain``: a photo-like wallpaper with grain around the window, which compresses about as
    badly as a real one (a 4K shot is then about 5 MB, like the captures bench/capture.py measures).
    """
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (46, 84, 122))
    if grain:
        gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        image = Image.blend(gradient, Image.effect_noise((width, height), 40).convert("RGB"), 0.12)
    draw = ImageDraw.Draw(image)
    scale = max(1, width // 1280)
    left, top = width // 10, height // 10
    right, bottom = width - width // 8, height - height // 6
    draw.rectangle((left, top, right, bottom), fill=(244, 246, 249), outline=(30, 30, 30), width=2 * scale)
    draw.rectangle((left, top, right, top + 36 * scale), fill=(31, 78, 121))
    draw.text((left + 12 * scale, top + 10 * scale), title, fill=(255, 255, 255))
    for line in range(min(40, (bottom - top) // (24 * scale) - 3)):
        y = top + (60 + line * 24) * scale
        length = rng.randrange(width // 6, (right - left) - 40 * scale)
        draw.rectangle((left + 20 * scale, y, left + 20 * scale + length, y + 8 * scale), fill=(190, 198, 208))
    cx, cy = (left + right) // 2, (top + bottom) // 2
    draw.rectangle(
        (cx - 220 * scale, cy - 90 * scale, cx + 220 * scale, cy + 90 * scale),
        fill=(255, 255, 255),
        outline=(142, 27, 27),
        width=3 * scale,
    )
    draw.text(
        (cx - 200 * scale, cy - 70 * scale), "Error 0x0000011b: the printer cannot be reached", fill=(142, 27, 27)
    )
    # Noise like a photo or a gradient wallpaper has, so the PNG is not trivially small.
    for _ in range(width * height // 400):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.point((x, y), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def photo_jpeg(width: int = 1200, height: int = 900, seed: int = 0) -> bytes:
    """A phone-camera-like JPEG: a printer's display showing an error code."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (120 + rng.randrange(40), 120, 110))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 5, height // 4, width * 4 // 5, height * 3 // 4), fill=(40, 44, 52))
    draw.rectangle((width // 4, height // 3, width * 3 // 4, height // 2), fill=(140, 200, 120))
    draw.text((width // 4 + 20, height // 3 + 20), "E-302 PAPER JAM", fill=(20, 40, 20))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def clip_webp(seed: int, *, frames: int = 12, size: tuple[int, int] = (640, 400)) -> bytes:
    """An animated WebP clip as the kiosk records one: a desktop on which a dialog slides to the right.

    Every frame differs (the dialog moves 24 px a frame), so each is a frame of its own in the file.
    """
    from agent.clips import encode_clip
    from tests.clips.synthetic import recording

    with Image.open(io.BytesIO(screenshot_png(size[0], size[1], seed))) as desktop:
        base = desktop.convert("RGB")
    pictures = []
    for number in range(frames):
        picture = base.copy()
        draw = ImageDraw.Draw(picture)
        left = 20 + number * 24
        draw.rectangle((left, size[1] // 3, left + 180, size[1] // 3 + 90), fill=(255, 255, 255), outline=(142, 27, 27))
        draw.text((left + 10, size[1] // 3 + 10), f"Printing... {number + 1}", fill=(142, 27, 27))
        pictures.append(picture)
    clip = encode_clip(recording(pictures, [n * 0.2 for n in range(frames)], frames * 0.2))
    return clip.data


class RequesterSite:
    """One server, a kiosk token of site ``north`` and a technician token."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.kiosk = server.token("submitter", name=f"kiosk-north-{server.port}", site="north")
        self.technician = server.token("technician", name=f"alex-{server.port}")

    def report(
        self,
        seed: int,
        *,
        language: str = "en",
        shots: int = 2,
        size: tuple[int, int] = (1280, 800),
        grain: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Submit a report as the kiosk does; returns the ticket reference (with its link)."""
        images = [screenshot_png(size[0], size[1], seed * 10 + n, grain=grain) for n in range(shots)]
        bundle = make_bundle(seed, images=images, **fields)
        session = requests.Session()
        session.headers["Accept-Language"] = language
        response = submit(self.server, self.kiosk, bundle, session=session, timeout=120)
        response.raise_for_status()
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    def report_with_clip(
        self, seed: int, *, frames: int = 12, caption: str = "The print dialog that never finishes", **fields: Any
    ) -> tuple[dict[str, Any], bytes]:
        """A report with one screenshot and one clip, as a kiosk sends it; returns the ticket and the clip."""
        from datetime import UTC, datetime

        from agent.bundle import ClipDraft, StepDraft, build_bundle

        data = clip_webp(seed, frames=frames)
        shot = screenshot_png(1280, 800, seed)
        step = StepDraft(image=shot, width=1280, height=800, captured_at=datetime.now(UTC), caption="The print queue")
        clip = ClipDraft(data=data, started_at=datetime.now(UTC), duration_ms=frames * 200, caption=caption)
        bundle = build_bundle(make_report(**fields), [step], clips=[clip])
        response = submit(self.server, self.kiosk, bundle, timeout=120)
        response.raise_for_status()
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket, data

    def tech(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = api(self.server, self.technician, method, path, **kwargs)
        response.raise_for_status()
        return response

    def reply(self, ticket: dict[str, Any], text: str) -> None:
        self.tech("POST", f"/tickets/{ticket['id']}/notes", json={"text": text, "internal": False})

    def status(self, ticket: dict[str, Any], status: str) -> None:
        self.tech("POST", f"/tickets/{ticket['id']}/status", json={"status": status})

    def detail(self, ticket: dict[str, Any]) -> dict[str, Any]:
        detail: dict[str, Any] = self.tech("GET", f"/tickets/{ticket['id']}").json()
        return detail
