"""A report and its files, and the single-file bundle (a zip) they travel in.

The bundle is deterministic: the same report gives the same bytes, so a bundle
round-trips through import and export byte for byte, and a digest of it means
something. Loading validates everything before trusting it.

Importing this module does not load pydantic or the report schema's models (about 120 ms):
:func:`shot_bundle` writes the bundle of a command-line capture from plain data, checked
against the same bounds, and the models load on first use everywhere else.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent.report_format import (
    CLIP_MEDIA_TYPE,
    EMAIL_PATTERN,
    FIRST_SCHEMA_VERSION,
    IMAGE_EXTENSIONS,
    MANIFEST_PATH,
    MAX_ATTACHMENTS,
    MAX_CAPTION_CHARS,
    MAX_CLIP_BYTES,
    MAX_CLIPS,
    MAX_COORDINATE,
    MAX_DESCRIPTION_CHARS,
    MAX_EMAIL_CHARS,
    MAX_FILE_BYTES,
    MAX_MONITOR_INDEX,
    MAX_SCALE,
    MAX_SHORT_TEXT_CHARS,
    MAX_STEPS,
    MAX_SYSINFO_BYTES,
    SYSINFO_PATH,
    JSONFormatError,
    animation_facts,
    canonical_json_bytes,
    load_json_object,
    schema_version_for,
    sha256_hex,
    sniff_image_type,
)

if TYPE_CHECKING:

    from agent.schema import Geometry, MarkupItem, Monitor, Report

BUNDLE_SUFFIX: Final = ".showdesk"
MAX_BUNDLE_ENTRIES: Final = MAX_STEPS * 2 + MAX_ATTACHMENTS + MAX_CLIPS + 2
MAX_BUNDLE_BYTES: Final = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO: Final = 100
MAX_MANIFEST_BYTES: Final = 1024 * 1024
# Zip entries carry a DOS timestamp; a fixed one keeps bundles reproducible.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_DEFLATE_LEVEL: Final = 6
_ZIP_ENCRYPTED: Final = 0x1  # general purpose bit 0


def within_compression_bound(file_size: int, compress_size: int) -> bool:
    """Whether a zip entry of ``file_size`` bytes, ``compress_size`` as stored, is no zip bomb.

    The one rule the writer and the reader share: the writer stores (does not deflate) any
    entry that would break it, so every bundle ShowDesk writes loads. Sizes are the ones in
    the zip's directory, i.e. raw deflate without zlib's 6-byte frame; integers, so no
    rounding decides a case on the edge.
    """
    return file_size <= MAX_COMPRESSION_RATIO * compress_size


def _deflated_size(data: bytes) -> int:
    """The size of ``data`` as zipfile deflates it: raw deflate (wbits -15) at the bundle's level."""
    compressor = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return len(compressor.compress(data)) + len(compressor.flush())


class BundleError(ValueError):
    """A bundle or report that cannot be trusted; the message names the cause."""


@dataclass
class ReportBundle:
    """A report manifest with the bytes of every file it names."""

    report: Report
    files: dict[str, bytes] = field(default_factory=dict)
    # The manifest's bytes and the report they hold (``manifest_json``).
    _manifest: tuple[Report, bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def manifest_json(self) -> bytes:
        """The manifest's bytes: as stored, for a bundle read from its file; else the report's canonical JSON.

        Made once per report. A bundle waits in the outbox as its file, so the sender hands a connector the
        bytes the capture wrote instead of serialising the report again (for every connector, the fitting
        and the upload). Kept for the report they were made of: a bundle given another report makes its
        own. A report is never changed in place: it is a frozen model, copied with ``model_copy``.
        """
        kept = self._manifest
        if kept is None or kept[0] is not self.report:
            kept = self._manifest = (self.report, self.report.canonical_json())
        return kept[1]

    def validate(self) -> None:
        """Every named file present with its digest, nothing extra, images what they claim."""
        named = {ref.path: ref for ref in self.report.files()}
        missing = sorted(set(named) - set(self.files))
        if missing:
            raise BundleError(f"files named in the manifest are missing: {', '.join(missing)}")
        extra = sorted(set(self.files) - set(named))
        if extra:
            raise BundleError(f"files not named in the manifest: {', '.join(extra)}")
        for path, ref in named.items():
            data = self.files[path]
            if len(data) != ref.size or sha256_hex(data) != ref.sha256:
                raise BundleError(f"{path} does not match its size or sha256 in the manifest")
        for step in self.report.steps:
            for image_ref in (step.image, step.original):
                if image_ref is None:
                    continue
                ref = image_ref
                sniffed = sniff_image_type(self.files[ref.path])
                if sniffed != ref.media_type:
                    raise BundleError(
                        f"{ref.path} claims {ref.media_type} but its content is {sniffed or 'not an image'}"
                    )
        for clip in self.report.clips:
            facts = animation_facts(self.files[clip.file.path])
            if facts is None:
                raise BundleError(f"{clip.file.path} is not a WebP clip")
            stated = (clip.width, clip.height, clip.frames, clip.duration_ms)
            # A still (a screen that never changed) states its duration in the manifest only.
            duration = facts.duration_ms if facts.animated else clip.duration_ms
            if (facts.width, facts.height, facts.frames, duration) != stated:
                raise BundleError(
                    f"{clip.file.path} is {facts.width}x{facts.height}, {facts.frames} frames, "
                    f"{facts.duration_ms} ms; the manifest says {clip.width}x{clip.height}, "
                    f"{clip.frames} frames, {clip.duration_ms} ms"
                )

    @property
    def sysinfo(self) -> dict[str, object] | None:
        data = self.files.get(SYSINFO_PATH)
        if data is None:
            return None
        try:
            return load_json_object(data, what=SYSINFO_PATH)
        except JSONFormatError:
            return None

    def total_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())

    # ------------------------------------------------------------ serialisation
    def to_bytes(self) -> bytes:
        self.validate()
        entries = [(ref.path, ref.media_type, self.files[ref.path]) for ref in self.report.files()]
        return _zip_bundle(self.manifest_json(), entries)

    def write(self, path: Path) -> None:
        """Write the bundle atomically: a reader never sees half a file."""
        from agent.fsutil import atomic_write_bytes

        atomic_write_bytes(path, self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> ReportBundle:
        """Load and validate a bundle; anything hostile or damaged raises :class:`BundleError`."""
        try:
            return cls._from_bytes(data)
        except BundleError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
                OverflowError, struct.error) as exc:
            # What zipfile raises on a zip whose CRC, sizes or headers lie (and Python's own
            # bound on the depth of a structure): a damaged or hostile file, never a bug here.
            raise BundleError(f"not a valid ShowDesk bundle (damaged zip: {exc})") from exc

    @classmethod
    def _from_bytes(cls, data: bytes) -> ReportBundle:
        if len(data) > MAX_BUNDLE_BYTES:
            raise BundleError(f"bundle is {len(data)} bytes; the limit is {MAX_BUNDLE_BYTES}")
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise BundleError(f"not a ShowDesk bundle (not a zip file): {exc}") from exc
        with archive:
            infos = archive.infolist()
            if len(infos) > MAX_BUNDLE_ENTRIES:
                raise BundleError(f"bundle has {len(infos)} files; the limit is {MAX_BUNDLE_ENTRIES}")
            declared_total = 0
            names: set[str] = set()
            for info in infos:
                _check_entry_name(info.filename)
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise BundleError(f"{info.filename} uses a zip compression ShowDesk never writes; refused")
                if info.flag_bits & _ZIP_ENCRYPTED:
                    raise BundleError(f"{info.filename} is encrypted; ShowDesk bundles never are")
                if info.filename in names:
                    raise BundleError(f"bundle holds {info.filename!r} twice")
                names.add(info.filename)
                declared_total += info.file_size
                if info.file_size > MAX_FILE_BYTES and info.filename != MANIFEST_PATH:
                    raise BundleError(f"{info.filename} is {info.file_size} bytes; the limit is {MAX_FILE_BYTES}")
                if not within_compression_bound(info.file_size, info.compress_size):
                    raise BundleError(
                        f"{info.filename} expands more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?); refused"
                    )
            _check_local_headers(data, infos)
            if declared_total > MAX_BUNDLE_BYTES:
                raise BundleError(f"bundle expands to {declared_total} bytes; the limit is {MAX_BUNDLE_BYTES}")
            if MANIFEST_PATH not in names:
                raise BundleError(f"bundle has no {MANIFEST_PATH}")
            manifest_info = archive.getinfo(MANIFEST_PATH)
            if manifest_info.file_size > MAX_MANIFEST_BYTES:
                raise BundleError(f"{MANIFEST_PATH} is larger than {MAX_MANIFEST_BYTES} bytes")
            manifest = _read_entry(archive, MANIFEST_PATH)
            report = parse_manifest(manifest)
            files = {name: _read_entry(archive, name) for name in sorted(names - {MANIFEST_PATH})}
        bundle = cls(report, files)
        bundle.validate()
        bundle._manifest = (report, manifest)  # sent and written again as stored (``manifest_json``)
        return bundle

    @classmethod
    def read(cls, path: Path) -> ReportBundle:
        """Load the bundle file at ``path``; anything that is not a bundle raises :class:`BundleError`."""
        return cls.from_bytes(read_bundle_file(path))


def read_bundle_file(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_BUNDLE_BYTES``, read without trusting its size.

    A device (``/dev/zero``, also through a symlink), a FIFO or a directory is refused
    before a byte is read: the first would never end, the second would block. The read
    stops one byte past the limit whatever ``stat`` said (``/proc`` files claim 0 bytes).
    """
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device"
        raise BundleError(f"{path} is {kind}, not a bundle file")
    with os.fdopen(fd, "rb", buffering=0) as stream:
        chunks: list[bytes] = []
        remaining = MAX_BUNDLE_BYTES + 1
        try:
            while remaining > 0 and (chunk := stream.read(min(remaining, 1024 * 1024))):
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if remaining <= 0:
        raise BundleError(f"{path} is larger than the limit of {MAX_BUNDLE_BYTES} bytes for a bundle")
    return b"".join(chunks)


def parse_manifest(data: bytes) -> Report:
    """Parse and validate a manifest, with an error a person can act on."""
    from agent.schema import ReportFormatError, parse_report

    try:
        return parse_report(data)
    except ReportFormatError as exc:
        raise BundleError(str(exc)) from None


_LOCAL_HEADER: Final = struct.Struct("<4s2B4HL2L2H")
_LOCAL_HEADER_SIGNATURE: Final = b"PK\x03\x04"
_DATA_DESCRIPTOR_FLAG: Final = 0x08  # sizes and CRC follow the data instead of the local header
_ZIP64_MARKER: Final = 0xFFFFFFFF


def _check_local_headers(data: bytes, infos: Sequence[zipfile.ZipInfo]) -> None:
    """Each entry's local header agrees with the central directory, and no two entries overlap.

    zipfile reads sizes from the central directory only; another reader (``unzip``, a
    streaming one) may trust the local headers. A bundle that reads differently depending on
    who reads it is hostile, and entries that share bytes are the classic zip bomb.
    """
    previous_end = 0
    previous_name = ""
    for info in sorted(infos, key=lambda i: i.header_offset):
        offset = info.header_offset
        if offset < previous_end:
            raise BundleError(f"{info.filename} overlaps {previous_name} in the zip (a zip bomb?); refused")
        header = data[offset : offset + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size or not header.startswith(_LOCAL_HEADER_SIGNATURE):
            raise BundleError(f"{info.filename} has no local header where the zip's directory says")
        fields = _LOCAL_HEADER.unpack(header)
        flags, method, crc, compress_size, file_size, name_length, extra_length = (
            fields[3], fields[4], fields[7], fields[8], fields[9], fields[10], fields[11],
        )
        if method != info.compress_type:
            raise BundleError(f"{info.filename}: the local header and the zip's directory disagree on compression")
        if not flags & _DATA_DESCRIPTOR_FLAG:
            for what, local, central in (
                ("CRC", crc, info.CRC),
                ("compressed size", compress_size, info.compress_size),
                ("size", file_size, info.file_size),
            ):
                if local != central and local != _ZIP64_MARKER:
                    raise BundleError(
                        f"{info.filename}: the local header and the zip's directory disagree on its {what}"
                    )
        previous_end = offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        previous_name = info.filename
        if previous_end > len(data):
            raise BundleError(f"{info.filename} runs past the end of the file (truncated or lying sizes)")


def _check_entry_name(name: str) -> None:
    if name == MANIFEST_PATH:
        return
    # The schema's path pattern rejects '..', absolute paths, backslashes and anything
    # else ShowDesk never writes; check here too so a hostile zip fails before parsing.
    if name.startswith(("/", "\\")) or ".." in name or "\\" in name or ":" in name:
        raise BundleError(f"bundle entry {name!r} is an unsafe path (traversal or absolute); refused")


def _zip_bundle(manifest: bytes, files: Iterable[tuple[str, str, bytes]]) -> bytes:
    """The bundle's zip: the manifest, then each (path, media type, bytes) in manifest order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _write_entry(archive, MANIFEST_PATH, manifest, compress=True)
        for path, media_type, data in files:
            # Images are already compressed; deflating them again only costs time.
            _write_entry(archive, path, data, compress=not media_type.startswith("image/"))
    return buffer.getvalue()


def _write_entry(archive: zipfile.ZipFile, name: str, data: bytes, *, compress: bool) -> None:
    if compress and not within_compression_bound(len(data), _deflated_size(data)):
        # A very repetitive log would look like a zip bomb to the loader: store it as is.
        compress = False
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=_DEFLATE_LEVEL if compress else None)
    if not within_compression_bound(info.file_size, info.compress_size):
        # zipfile deflated differently from _deflated_size (another zlib?): a bundle the
        # loader would refuse must never be written.
        raise AssertionError(f"{name}: deflated {info.file_size} bytes to {info.compress_size}, past the bound")


def _read_entry(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    with archive.open(info) as stream:
        # Read at most the declared size plus one byte: a lying header cannot make us
        # inflate more than the limits we already checked.
        data = stream.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise BundleError(f"{name} is not the size its zip header declares")
    return data


# ---------------------------------------------------------------- building reports
@dataclass
class StepDraft:
    """A step as ``build_bundle`` takes it: the encoded image as it is sent, plus its facts.

    Made from a capture (``agent.encoding.step_draft``) or by freezing a step the person edited
    (``agent.steps.freeze_step``: mark-up burnt in, the original only when allowed).
    """

    image: bytes
    width: int
    height: int
    captured_at: datetime
    caption: str = ""
    monitor: Monitor | None = None
    capture_method: str = "mss"
    capture_notes: str = ""
    markup: list[MarkupItem] = field(default_factory=list)
    original: bytes | None = None


@dataclass
class ClipDraft:
    """A clip as ``build_bundle`` takes it: the encoded animated WebP and its facts.

    Made by ``agent.clips`` (``EncodedClip.draft()``); the canvas, frame count and duration are
    read from the file itself when the bundle is built, so they always agree with it. Only a still
    file (a screen that never changed) takes its length from ``duration_ms``.
    """

    data: bytes
    started_at: datetime
    duration_ms: int
    caption: str = ""
    origin: str = "recording"
    monitor: Monitor | None = None
    region: Geometry | None = None
    capture_notes: str = ""
    redactions: list[MarkupItem] = field(default_factory=list)


@dataclass
class AttachmentDraft:
    data: bytes
    display_name: str
    media_type: str = "application/octet-stream"


_ATTACHMENT_EXTENSIONS: Final = {
    "text/plain": "txt",
    "application/json": "json",
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
}


def build_bundle(
    base: Report,
    steps: Iterable[StepDraft] = (),
    attachments: Iterable[AttachmentDraft] = (),
    sysinfo: dict[str, object] | None = None,
    clips: Iterable[ClipDraft] = (),
) -> ReportBundle:
    """Freeze drafts into a report bundle with paths and digests ShowDesk assigns.

    ``base`` supplies everything but the files (id, reporter, category, source…). The schema
    version is the oldest that holds the result: 2 with clips, 1 without.
    """
    from pydantic import ValidationError

    from agent.schema import Attachment, Clip, Report, Step, file_ref

    files: dict[str, bytes] = {}
    frozen_steps: list[Step] = []
    for number, draft in enumerate(steps, start=1):
        media_type = sniff_image_type(draft.image)
        if media_type is None:
            raise BundleError(f"step {number} is not a PNG, JPEG or WebP image")
        path = f"steps/{number:03d}.{IMAGE_EXTENSIONS[media_type]}"
        files[path] = draft.image
        original_ref = None
        if draft.original is not None:
            original_type = sniff_image_type(draft.original)
            if original_type is None:
                raise BundleError(f"the original of step {number} is not an image")
            original_path = f"steps/{number + 500:03d}.{IMAGE_EXTENSIONS[original_type]}"
            files[original_path] = draft.original
            original_ref = file_ref(original_path, draft.original, original_type)
        frozen_steps.append(
            Step(
                image=file_ref(path, draft.image, media_type),
                width=draft.width,
                height=draft.height,
                caption=draft.caption,
                monitor=draft.monitor,
                captured_at=draft.captured_at,
                capture_method=draft.capture_method,
                capture_notes=draft.capture_notes,
                markup=draft.markup,
                original=original_ref,
            )
        )
    frozen_attachments: list[Attachment] = []
    for number, attachment in enumerate(attachments, start=1):
        extension = _ATTACHMENT_EXTENSIONS.get(attachment.media_type, "bin")
        path = f"attachments/{number:03d}.{extension}"
        files[path] = attachment.data
        frozen_attachments.append(
            Attachment(
                file=file_ref(path, attachment.data, attachment.media_type),
                display_name=attachment.display_name[:200],
            )
        )
    frozen_clips: list[Clip] = []
    for number, clip in enumerate(clips, start=1):
        facts = animation_facts(clip.data)
        if facts is None:
            raise BundleError(f"clip {number} is not a WebP clip")
        if len(clip.data) > MAX_CLIP_BYTES:
            raise BundleError(f"clip {number} is {len(clip.data)} bytes; the limit is {MAX_CLIP_BYTES}")
        path = f"clips/{number:03d}.webp"
        files[path] = clip.data
        try:
            frozen_clips.append(
                Clip(
                    file=file_ref(path, clip.data, CLIP_MEDIA_TYPE),
                    width=facts.width,
                    height=facts.height,
                    frames=facts.frames,
                    duration_ms=facts.duration_ms if facts.animated else clip.duration_ms,
                    origin=clip.origin,  # type: ignore[arg-type]  # validated by the model
                    caption=clip.caption,
                    monitor=clip.monitor,
                    region=clip.region,
                    started_at=clip.started_at,
                    capture_notes=clip.capture_notes,
                    redactions=clip.redactions,
                )
            )
        except ValidationError as exc:
            from agent.schema import describe_validation_error

            raise BundleError(f"clip {number}: {describe_validation_error(exc)}") from exc
    sysinfo_ref = None
    if sysinfo is not None:
        data = canonical_json_bytes(sysinfo)
        files[SYSINFO_PATH] = data
        sysinfo_ref = file_ref(SYSINFO_PATH, data, "application/json")
    try:
        report = base.model_copy(
            update={
                "schema_version": schema_version_for(
                    clips=len(frozen_clips), language=base.reporter.language is not None
                ),
                "steps": frozen_steps,
                "attachments": frozen_attachments,
                "clips": frozen_clips,
                "sysinfo": sysinfo_ref,
            }
        )
        # model_copy does not validate; round-trip through validation so bounds hold.
        report = Report.model_validate(report.model_dump())
    except ValidationError as exc:
        from agent.schema import describe_validation_error

        raise BundleError(describe_validation_error(exc)) from exc
    bundle = ReportBundle(report, files)
    bundle.validate()
    return bundle


# ---------------------------------------------------------------- a capture's bundle from plain data
@dataclass(frozen=True)
class ShotStep:
    """A captured screen as a step, in plain data: the encoded image and its facts.

    ``monitor`` is the screen as ``agent.capture.MonitorInfo.facts()`` gives it.
    """

    image: bytes
    width: int
    height: int
    captured_at: datetime
    monitor: Mapping[str, object] | None = None
    caption: str = ""
    capture_method: str = "mss"
    capture_notes: str = ""


@dataclass(frozen=True)
class ShotBundle:
    """A bundle written from plain data: its report id and its bytes."""

    report_id: uuid.UUID
    data: bytes

    def write(self, path: Path) -> None:
        """Write the bundle atomically: a reader never sees half a file."""
        from agent.fsutil import atomic_write_bytes

        atomic_write_bytes(path, self.data)


def shot_bundle(
    steps: Sequence[ShotStep],
    *,
    source_kind: str,
    source_id: str,
    app_version: str = "",
    reporter_name: str | None = None,
    reporter_email: str | None = None,
    category: str = "",
    description: str = "",
    sysinfo: Mapping[str, object] | None = None,
    report_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> ShotBundle:
    """The bundle of a capture, without the schema's models: the same bytes ``build_bundle`` writes.

    Every value is checked against the schema's bounds first, and a value out of them raises
    :class:`BundleError` naming the field, so the bundle written is one ``ReportBundle.read``
    and the server accept (they validate it again with the schema itself).
    """
    if not steps:
        raise BundleError("a capture needs at least one step")
    if len(steps) > MAX_STEPS:
        raise BundleError(f"steps: {len(steps)} shots; a report holds at most {MAX_STEPS}")
    created = created_at if created_at is not None else datetime.now(UTC)
    _check_aware("created_at", created)
    files: list[tuple[str, str, bytes]] = []
    step_entries: list[dict[str, object]] = []
    for number, step in enumerate(steps, start=1):
        where = f"steps.{number - 1}"
        media_type = sniff_image_type(step.image)
        if media_type is None:
            raise BundleError(f"step {number} is not a PNG, JPEG or WebP image")
        path = f"steps/{number:03d}.{IMAGE_EXTENSIONS[media_type]}"
        files.append((path, media_type, step.image))
        step_entries.append(
            {
                "image": _plain_file_ref(f"{where}.image", path, step.image, media_type),
                "width": _check_int(f"{where}.width", step.width, 1, MAX_COORDINATE),
                "height": _check_int(f"{where}.height", step.height, 1, MAX_COORDINATE),
                "caption": _check_text(f"{where}.caption", step.caption, MAX_CAPTION_CHARS),
                "monitor": None if step.monitor is None else _plain_monitor(f"{where}.monitor", step.monitor),
                "captured_at": _json_datetime(step.captured_at),
                "capture_method": _check_text(f"{where}.capture_method", step.capture_method, MAX_SHORT_TEXT_CHARS),
                "capture_notes": _check_text(f"{where}.capture_notes", step.capture_notes, MAX_SHORT_TEXT_CHARS),
                "downscale": 1.0,
                "markup": [],
                "original": None,
            }
        )
    sysinfo_ref = None
    if sysinfo is not None:
        data = canonical_json_bytes(sysinfo)
        if len(data) > MAX_SYSINFO_BYTES:
            raise BundleError(f"system information is larger than {MAX_SYSINFO_BYTES} bytes")
        files.append((SYSINFO_PATH, "application/json", data))
        sysinfo_ref = _plain_file_ref("sysinfo", SYSINFO_PATH, data, "application/json")
    if not source_id:
        raise BundleError("source.id: must not be empty")
    if reporter_email is not None and (
        len(reporter_email) > MAX_EMAIL_CHARS or not re.fullmatch(EMAIL_PATTERN, reporter_email)
    ):
        raise BundleError(f"reporter.email: {reporter_email[:80]!r} is not an e-mail address")
    the_id = report_id if report_id is not None else uuid.uuid4()
    name = None if reporter_name is None else _check_text("reporter.name", reporter_name, MAX_SHORT_TEXT_CHARS)
    manifest = {
        "schema_version": FIRST_SCHEMA_VERSION,  # no clips here: the version every reader reads
        "id": str(the_id),
        "created_at": _json_datetime(created),
        "reporter": {
            "name": name,
            "email": reporter_email,
            "badge_id": None,
        },
        "category": _check_text("category", category, MAX_SHORT_TEXT_CHARS),
        "description": _check_text("description", description, MAX_DESCRIPTION_CHARS),
        "steps": step_entries,
        "attachments": [],
        "sysinfo": sysinfo_ref,
        "source": {
            "kind": _check_choice("source.kind", source_kind, ("kiosk", "agent", "cli", "import")),
            "id": _check_text("source.id", source_id, MAX_SHORT_TEXT_CHARS),
            "site": None,
            "app_version": _check_text("source.app_version", app_version, MAX_SHORT_TEXT_CHARS),
        },
        "walk_up": False,
        "self_help_articles": [],
    }
    return ShotBundle(the_id, _zip_bundle(canonical_json_bytes(manifest), files))


def _json_datetime(value: datetime) -> str:
    # As the schema writes it: ISO 8601, with "Z" for UTC.
    text = value.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def _check_aware(where: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise BundleError(f"{where}: must carry a time zone")


def _check_text(where: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise BundleError(f"{where}: must be text")
    if len(value) > limit:
        raise BundleError(f"{where}: {len(value)} characters; the limit is {limit}")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise BundleError(f"{where}: text must not contain control characters")
    return value


def _check_int(where: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BundleError(f"{where}: {value!r} is not a whole number from {low} to {high}")
    return value


def _check_choice(where: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BundleError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return value


def _plain_file_ref(where: str, path: str, data: bytes, media_type: str) -> dict[str, object]:
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"{where}: {len(data)} bytes; the limit for one file is {MAX_FILE_BYTES}")
    return {"path": path, "sha256": sha256_hex(data), "size": len(data), "media_type": media_type}


def _plain_monitor(where: str, facts: Mapping[str, object]) -> dict[str, object]:
    geometry = facts.get("geometry")
    if not isinstance(geometry, Mapping):
        raise BundleError(f"{where}.geometry: missing")
    name = facts.get("name")
    scale = facts.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= MAX_SCALE:
        raise BundleError(f"{where}.scale: {scale!r} is not a device-pixel ratio above 0 and at most {MAX_SCALE:g}")
    return {
        "index": _check_int(f"{where}.index", facts.get("index"), 0, MAX_MONITOR_INDEX),
        "name": None if name is None else _check_text(f"{where}.name", name, MAX_SHORT_TEXT_CHARS),
        "geometry": {
            "left": _check_int(f"{where}.geometry.left", geometry.get("left"), -MAX_COORDINATE, MAX_COORDINATE),
            "top": _check_int(f"{where}.geometry.top", geometry.get("top"), -MAX_COORDINATE, MAX_COORDINATE),
            "width": _check_int(f"{where}.geometry.width", geometry.get("width"), 1, MAX_COORDINATE),
            "height": _check_int(f"{where}.geometry.height", geometry.get("height"), 1, MAX_COORDINATE),
        },
        "scale": float(scale),
    }
