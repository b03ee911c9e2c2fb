"""A recording to an animated WebP: redaction boxes burnt into every frame, off the caller's thread.

Animated WebP through Pillow: every browser and Qt play it, and it needs no new dependency.
Lossless by default, so text stays readable; libwebp's animation encoder stores only the part
of each frame that changed and merges frames that did not change at all, which is what a screen
mostly does. ``lossless=False`` (quality 0-100) gives smaller files of photos and video.

Frames are decoded and handed to the encoder one at a time (Pillow pulls them through
:class:`_LazyFrames`), so encoding a 30 s clip holds one decoded frame, not 150. Between two frames
the encoder calls ``progress(done, total)`` and checks ``cancel``; a cancelled encode raises
:class:`EncodeCancelledError` and leaves nothing behind.

Redaction is destructive, as in the mark-up editor (``agent.markup``): each box is filled black in
the pixels before they reach the encoder, in every frame, so the file holds nothing of what was
under it. The boxes are in the recording's pixels (its top-left corner is 0, 0).

WebM (VP9) is there too, off by default, only where ffmpeg with libvpx-vp9 is installed
(:func:`webm_encoder`, :func:`encode_clip_webm`); see the section at the end of this module.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, Final

from PIL import Image

from agent.capture import MonitorInfo, Rect
from agent.clips.frames import FrameDecoder
from agent.clips.recorder import black_out
from agent.clips.recording import ClipError, Origin, Recording
from agent.encoding import WEBP_MAX_DIMENSION
from agent.markup import REDACTION_FILL, redaction_box
from agent.report_format import MAX_CLIP_BYTES, AnimationFacts, animation_facts

if TYPE_CHECKING:
    from agent.bundle import ClipDraft
    from agent.schema import MarkupItem

ProgressCallback = Callable[[int, int], None]
# libwebp's effort, 0 (fastest) to 6: screen content gains little from more, and a clip of 150
# frames must encode in seconds.
_METHOD: Final = 0
# No key frames after the first (kmin = kmax = 0): on screen content they made a clip about twice
# as large and twice as slow to encode (bench/clips.py), and a player steps through 150 frames of
# changed rectangles in milliseconds anyway.
_KEY_FRAMES: Final = {"kmin": 0, "kmax": 0}


class EncodeCancelledError(Exception):
    """The encode was cancelled; nothing was produced."""


@dataclass(frozen=True)
class EncodedClip:
    """An encoded clip: the animated WebP's bytes and what it shows.

    ``frames`` and ``duration_ms`` are read from the file (libwebp merges unchanged frames), so
    they are what a viewer plays and what the report states; a screen that never changed gives a
    still WebP of one frame lasting the whole ``duration_ms``.
    """

    data: bytes
    facts: AnimationFacts
    started_at: datetime
    origin: Origin
    monitor: MonitorInfo
    region: Rect
    notes: tuple[str, ...] = ()
    redactions: tuple[MarkupItem, ...] = field(default_factory=tuple)

    @property
    def width(self) -> int:
        return self.facts.width

    @property
    def height(self) -> int:
        return self.facts.height

    @property
    def frames(self) -> int:
        return self.facts.frames

    @property
    def duration_ms(self) -> int:
        return self.facts.duration_ms

    def draft(self, caption: str = "") -> ClipDraft:
        """The clip as ``agent.bundle.build_bundle`` takes it."""
        from agent.bundle import ClipDraft
        from agent.schema import Geometry

        region = self.region
        return ClipDraft(
            data=self.data,
            started_at=self.started_at,
            duration_ms=self.duration_ms,
            caption=caption,
            origin=self.origin,
            monitor=self.monitor.to_schema(),
            region=Geometry(left=region.left, top=region.top, width=region.width, height=region.height),
            capture_notes="; ".join(self.notes)[:200],
            redactions=list(self.redactions),
        )


class _LazyFrames(Image.Image):
    """A multi-frame image whose frames are made as the encoder seeks to them.

    Pillow's WebP writer walks ``n_frames`` with ``seek()``: each seek decodes one frame, applies
    the redactions, reports progress and checks for cancellation.
    """

    def __init__(self, frames: Iterator[Image.Image], count: int, step: Callable[[int], None]) -> None:
        super().__init__()
        self._source = frames
        self._count = count
        self._step = step
        self._index = -1
        self._load_next()

    @property
    def n_frames(self) -> int:
        return self._count

    def tell(self) -> int:
        return self._index

    def seek(self, frame: int) -> None:
        if frame <= self._index:
            return  # no rewinding: the writer seeks back to the start only once it has written all
        if frame != self._index + 1:
            raise EOFError("the frames of a clip are read in order")
        self._load_next()

    def _load_next(self) -> None:
        self._step(self._index + 1)
        image = next(self._source)
        self.im = image.im
        self._mode = image.mode
        self._size = image.size
        self._index += 1


def _redacted(images: Iterator[Image.Image], boxes: Sequence[tuple[int, int, int, int]]) -> Iterator[Image.Image]:
    for image in images:
        if boxes:
            image = image.copy()  # frombuffer images share the decoder's bytes, which are read-only
            for box in boxes:
                image.paste(REDACTION_FILL, box)
        yield image


def encode_clip(
    recording: Recording,
    *,
    redactions: Sequence[MarkupItem] = (),
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    lossless: bool = True,
    quality: int = 80,
) -> EncodedClip:
    """Encode ``recording`` (trim it first) as an animated WebP, in the calling thread.

    ``redactions`` are mark-up items of kind "redaction" in the recording's pixels. Raises
    :class:`EncodeCancelledError` when ``cancel`` is set, :class:`ClipError` when the result
    would be over the report's bound on a clip's bytes or the screen is too wide for WebP.
    """
    if any(item.kind != "redaction" for item in redactions):
        raise ClipError("a clip takes redaction boxes only")
    width, height = recording.width, recording.height
    if max(width, height) > WEBP_MAX_DIMENSION:
        raise ClipError(f"a clip of {width}x{height} is wider than WebP allows ({WEBP_MAX_DIMENSION} pixels)")
    boxes = [
        box
        for box in (redaction_box(item, width, height) for item in redactions)
        if box[2] > box[0] and box[3] > box[1]
    ]
    # Frames that share every band are the same picture: one frame lasting as long as both (what
    # libwebp would find out itself, after decoding and comparing the whole canvas).
    kept = [0]
    for index in range(1, len(recording.frames)):
        if recording.frames[index].bands is not recording.frames[kept[-1]].bands:
            kept.append(index)
    frames = [recording.frames[index] for index in kept]
    total = len(frames)

    def step(index: int) -> None:
        if cancel is not None and cancel.is_set():
            raise EncodeCancelledError("the clip's encoding was cancelled")
        if progress is not None:
            progress(index, total)

    # Timestamps in whole milliseconds from the start; libwebp makes each frame last until the next.
    starts = [round(frame.at * 1000) for frame in frames]
    end = max(round(recording.duration * 1000), starts[-1] + 1)
    durations = [max(1, b - a) for a, b in zip(starts, [*starts[1:], end], strict=True)]
    decoder = FrameDecoder()
    images = _redacted((decoder.image(frame) for frame in frames), boxes)
    buffer = io.BytesIO()
    # Pillow writes one frame as a still, and libwebp writes frames that never change as one
    # still too: such a clip is one frame, and its length lives in the manifest (EncodedClip.facts).
    sequence = _LazyFrames(images, total, step)
    sequence.save(
        buffer,
        "WEBP",
        save_all=True,
        duration=durations,
        lossless=lossless,
        # For lossless WebP "quality" is the effort: 0, the fastest, like method 0.
        quality=0 if lossless else quality,
        method=_METHOD,
        **_KEY_FRAMES,
    )
    if progress is not None:
        progress(total, total)
    data = buffer.getvalue()
    facts = animation_facts(data)
    if facts is None:  # pragma: no cover - Pillow writes WebP or raises
        raise ClipError("the encoder did not produce a WebP file")
    if not facts.animated:
        facts = replace(facts, duration_ms=end)
    if len(data) > MAX_CLIP_BYTES:
        raise ClipError(
            f"the clip encodes to {len(data):,} bytes, over the limit of {MAX_CLIP_BYTES:,}; trim it, "
            "or record a region instead of the whole screen"
        )
    return EncodedClip(
        data=data,
        facts=facts,
        started_at=recording.started_at,
        origin=recording.origin,
        monitor=recording.monitor,
        region=recording.region,
        notes=recording.notes,
        redactions=tuple(redactions),
    )


def shrink_clip(
    data: bytes,
    *,
    scale: float = 1.0,
    lossless: bool = False,
    quality: int = 80,
    cancel: threading.Event | None = None,
) -> bytes:
    """An encoded clip again, smaller: frames scaled by ``scale``, lossy unless ``lossless``.

    For fitting a report to a ticket system's attachment limit when the recording itself is gone.
    Frames are decoded one at a time (as a viewer composites them) and keep their durations; the
    redactions are already in the pixels. Raises :class:`ClipError` for data that is no WebP clip
    and :class:`EncodeCancelledError` when ``cancel`` is set.
    """
    if not 0 < scale <= 1:
        raise ClipError(f"a clip shrinks by a factor above 0 and at most 1, not {scale:g}")
    facts = animation_facts(data)
    if facts is None:
        raise ClipError("the data is not a WebP clip")
    size = (max(1, round(facts.width * scale)), max(1, round(facts.height * scale)))

    def frames() -> Iterator[Image.Image]:
        with Image.open(io.BytesIO(data)) as clip:
            for index in range(facts.frames):
                clip.seek(index)
                picture = clip.convert("RGB")
                yield picture if size == picture.size else picture.resize(size, Image.Resampling.LANCZOS)

    def step(_index: int) -> None:
        if cancel is not None and cancel.is_set():
            raise EncodeCancelledError("shrinking the clip was cancelled")

    buffer = io.BytesIO()
    sequence = _LazyFrames(frames(), facts.frames, step)
    sequence.save(
        buffer,
        "WEBP",
        save_all=True,
        # From the container: a still's one frame lasts what the manifest says, whatever is written.
        duration=_frame_durations(data, facts.frames),
        lossless=lossless,
        quality=0 if lossless else quality,
        method=_METHOD,
        **_KEY_FRAMES,
    )
    return buffer.getvalue()


def _frame_durations(data: bytes, count: int) -> list[int]:
    """Each ANMF frame's duration in milliseconds, in order (1 for a still's one frame)."""
    durations: list[int] = []
    position = 12
    while position + 8 <= len(data) and len(durations) < count:
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        if kind == b"ANMF":
            durations.append(int.from_bytes(data[position + 20 : position + 23], "little"))
        position += 8 + length + (length & 1)
    return durations or [1]


class EncodeJob:
    """An encode running on a worker thread: ``future`` gives the :class:`EncodedClip`.

    ``cancel()`` asks it to stop between two frames; its future then raises
    :class:`EncodeCancelledError`. ``progress(done, total)`` is called on the worker thread.
    """

    def __init__(self, future: Future[EncodedClip], cancel: threading.Event) -> None:
        self.future = future
        self._cancel = cancel

    def cancel(self) -> None:
        self._cancel.set()

    def result(self, timeout: float | None = None) -> EncodedClip:
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _shared_executor() -> ThreadPoolExecutor:
    global _executor  # one worker for the process, made on first use
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="showdesk-clip-encode")
        return _executor


def encode_clip_async(
    recording: Recording,
    *,
    redactions: Sequence[MarkupItem] = (),
    progress: ProgressCallback | None = None,
    lossless: bool = True,
    quality: int = 80,
    executor: ThreadPoolExecutor | None = None,
) -> EncodeJob:
    """Start :func:`encode_clip` on a worker thread and return at once (for the GUI's Stop button).

    Pillow's WebP encoder releases the GIL, so the GUI stays responsive while it runs.
    """
    cancel = threading.Event()
    future = (executor or _shared_executor()).submit(
        encode_clip,
        recording,
        redactions=redactions,
        progress=progress,
        cancel=cancel,
        lossless=lossless,
        quality=quality,
    )
    return EncodeJob(future, cancel)


# ---------------------------------------------------------------- WebM through an optional ffmpeg
# Off by default: nothing in ShowDesk calls this unless asked, and it runs only where ffmpeg with
# libvpx-vp9 is installed (VP9 in WebM: BSD-licensed and royalty-free). Never any other video codec:
# H.264 encoders (x264) are GPL and patent-encumbered, so MP4 is not offered. ffmpeg is a program
# the site installs, called as a separate process; nothing of it is bundled.
VIDEO_MEDIA_TYPE: Final = "video/webm"
_VP9_ENCODER: Final = "libvpx-vp9"
# VP9's constant quality (0 best … 63): screen text stays readable at 30; 0 bit rate means "by quality".
_VP9_CRF: Final = 30
# How long the encoder may take beyond the frames being handed to it; a stuck ffmpeg is killed.
_FFMPEG_EXIT_TIMEOUT_S: Final = 120.0
_FFMPEG_PROBE_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class EncodedVideo:
    """A clip as WebM (VP9): its bytes and what it shows, at a constant frame rate."""

    data: bytes
    width: int
    height: int
    frames: int
    fps: float
    duration_ms: int
    media_type: str = VIDEO_MEDIA_TYPE


def webm_encoder(ffmpeg: str | None = None) -> str | None:
    """The ffmpeg program that can write WebM (``ffmpeg``, else the one on PATH), or None.

    None when there is no ffmpeg, or it was built without libvpx-vp9.
    """
    path = ffmpeg if ffmpeg is not None else shutil.which("ffmpeg")
    if path is None:
        return None
    return path if _has_vp9(path) else None


@functools.lru_cache(maxsize=8)
def _has_vp9(path: str) -> bool:
    try:
        listed = subprocess.run(
            [path, "-hide_banner", "-loglevel", "error", "-encoders"],
            capture_output=True,
            text=True,
            timeout=_FFMPEG_PROBE_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    # Lines read " V....D libvpx-vp9   libvpx VP9 (codec vp9)": the second word is the encoder's name.
    return listed.returncode == 0 and any(line.split()[1:2] == [_VP9_ENCODER] for line in listed.stdout.splitlines())


def encode_clip_webm(
    recording: Recording,
    *,
    redactions: Sequence[MarkupItem] = (),
    fps: float = 5.0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    ffmpeg: str | None = None,
) -> EncodedVideo:
    """Encode ``recording`` as WebM (VP9) with an installed ffmpeg, in the calling thread.

    The video runs at ``fps`` frames a second: each of its frames shows the recording's frame on
    screen at that moment. Redaction boxes are filled black in the pixels before ffmpeg sees them.
    Frames go to ffmpeg through a pipe and the video comes back through one: nothing touches the
    disk. Raises :class:`ClipError` when no suitable ffmpeg is installed, it fails, or the video
    would be over the bound on a clip's bytes; :class:`EncodeCancelledError` when ``cancel`` is set.
    """
    program = webm_encoder(ffmpeg)
    if program is None:
        raise ClipError("WebM needs ffmpeg with libvpx-vp9 installed; it is optional, and the clip stays WebP")
    if not 0 < fps <= 30:
        raise ClipError(f"a video's frame rate is above 0 and at most 30 per second, not {fps:g}")
    if any(item.kind != "redaction" for item in redactions):
        raise ClipError("a clip takes redaction boxes only")
    width, height = recording.width, recording.height
    canvas = Rect(0, 0, width, height)
    boxes = [
        Rect(left, top, right - left, bottom - top)
        for left, top, right, bottom in (redaction_box(item, width, height) for item in redactions)
        if right > left and bottom > top
    ]
    total = max(1, math.ceil(recording.duration * fps - 1e-6))
    command = [
        program, "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "bgr0", "-s", f"{width}x{height}", "-framerate", f"{fps:g}", "-i", "pipe:0",
        # 4:2:0 needs even sides: a region of odd size gets one black row or column.
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v", _VP9_ENCODER, "-pix_fmt", "yuv420p", "-crf", str(_VP9_CRF), "-b:v", "0",
        # libvpx's fastest preset: on 10 s of 1080p about 4x faster than "good"/5, for 1.8x the bytes.
        "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
        "-an", "-f", "webm", "pipe:1",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = _Drain(process.stdout, MAX_CLIP_BYTES + 1)
    errors = _Drain(process.stderr, 64 * 1024)
    decoder = FrameDecoder()
    try:
        stdin = process.stdin
        assert stdin is not None
        decoded_index = -1
        pixels = bytearray()
        for number in range(total):
            if cancel is not None and cancel.is_set():
                raise EncodeCancelledError("the clip's encoding was cancelled")
            if progress is not None:
                progress(number, total)
            # A microsecond's grace: 3 × 0.2 s is 0.6000000000000001 in floating point.
            index = recording.frame_index_at(number / fps + 1e-6)
            if index != decoded_index:
                pixels = bytearray(decoder.pixels(recording.frames[index]))
                black_out(pixels, width, height, canvas, boxes)
                decoded_index = index
            try:
                stdin.write(pixels)
            except BrokenPipeError:
                break  # ffmpeg stopped: its exit status and messages say why, below
            if output.overflowed:
                break
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
        status = process.wait(timeout=_FFMPEG_EXIT_TIMEOUT_S)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        output.join()
        errors.join()
    if output.overflowed:
        raise ClipError(f"the clip encodes to more than {MAX_CLIP_BYTES:,} bytes as WebM; trim it")
    if status != 0 or not output.data:
        message = errors.data.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ClipError(f"ffmpeg could not encode the clip as WebM (exit status {status}): {message[0]}")
    if progress is not None:
        progress(total, total)
    return EncodedVideo(
        data=bytes(output.data),
        width=width + width % 2,
        height=height + height % 2,
        frames=total,
        fps=fps,
        duration_ms=round(total * 1000 / fps),
    )


class _Drain:
    """Reads a pipe to its end on a thread of its own (ffmpeg blocks when nobody reads), up to ``limit`` bytes."""

    def __init__(self, pipe: IO[bytes] | None, limit: int) -> None:
        self.data = bytearray()
        self.overflowed = False
        self._pipe = pipe
        self._limit = limit
        self._thread = threading.Thread(target=self._run, name="showdesk-ffmpeg-pipe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._pipe is None:
            return
        with self._pipe:
            while chunk := self._pipe.read(1 << 16):
                if len(self.data) + len(chunk) > self._limit:
                    self.overflowed = True
                    continue  # keep reading, so ffmpeg is never blocked on a full pipe
                self.data += chunk

    def join(self) -> None:
        self._thread.join(_FFMPEG_EXIT_TIMEOUT_S)
