"""Turning an uploaded report into a ticket: stream, verify, store, record.

The multipart body is parsed as it streams in: the manifest part is kept in memory
(bounded), each file part goes straight to a temporary file in the data directory while
its sha256 is computed, so nothing is read twice and memory stays flat. Once the body is
complete, ``ingest`` validates everything against the manifest, moves the files into
the content-addressed store (fsynced) and only then commits the ticket row. A request
refused at any step leaves nothing behind.

A part's file name is the file's path in the bundle; it only matches the part to the
manifest and is never used as a file-system path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from python_multipart.multipart import MultipartParser, parse_options_header

from agent.schema import (
    CLIP_MEDIA_TYPE,
    IMAGE_MEDIA_TYPES,
    MAX_ATTACHMENTS,
    MAX_CLIPS,
    MAX_FILE_BYTES,
    MAX_STEPS,
    MAX_SYSINFO_BYTES,
    Clip,
    FileRef,
    JSONFormatError,
    Report,
    ReportFormatError,
    load_json_object,
    parse_report,
)
from server.blobs import BlobBackend, discard, storage_full_as_error
from server.images import ImageRejectedError, inspect_clip, inspect_image
from server.store import FileRole, IdempotencyConflictError, NewFile, NewTicket, Store, TicketRow

MAX_MANIFEST_BYTES: Final = 1024 * 1024
# One part per file the schema allows (each step's image and original, attachments, clips,
# sysinfo) plus the manifest.
MAX_PARTS: Final = MAX_STEPS * 2 + MAX_ATTACHMENTS + MAX_CLIPS + 1 + 1
# Clips have a role of their own (served as image/webp, like any image), so a reader of the
# files list tells a clip from an attachment without the manifest.
_CLIP_ROLE: Final[FileRole] = "clip"
MAX_PART_HEADER_BYTES: Final = 4096
# Served as they are; any other type an attachment claims is served as octet-stream.
SAFE_ATTACHMENT_TYPES: Final = frozenset({"text/plain", "application/json", "application/pdf", *IMAGE_MEDIA_TYPES})


class UploadError(Exception):
    """The upload is refused; ``status`` is the HTTP answer and the message names the cause."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ReceivedFile:
    name: str
    temp: Path
    size: int
    sha256: str


@dataclass
class Upload:
    """A parsed multipart body: the manifest bytes and the files, each in a temporary file."""

    manifest: bytes | None = None
    files: dict[str, ReceivedFile] = field(default_factory=dict)
    temps: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        """Remove every temporary file not moved into the store."""
        for temp in self.temps:
            discard(temp)


class _PartReader:
    """Callbacks for python-multipart's streaming parser, writing parts as they come."""

    def __init__(self, blobs: BlobBackend, upload: Upload) -> None:
        self.blobs = blobs
        self.upload = upload
        self.parts = 0
        self.finished = False
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._manifest: bytearray | None = None
        self._file: IO[bytes] | None = None
        self._file_name = ""
        self._file_temp: Path | None = None
        self._file_size = 0
        self._hasher = hashlib.sha256()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadError(422, f"the body has more than {MAX_PARTS} parts")
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._check_header_size()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._check_header_size()

    def _check_header_size(self) -> None:
        if len(self._field) + len(self._value) > MAX_PART_HEADER_BYTES:
            raise UploadError(400, f"a part header is longer than {MAX_PART_HEADER_BYTES} bytes")

    def on_header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("utf-8", "replace")
        self._field.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get("content-disposition", ""))
        if disposition != b"form-data":
            raise UploadError(400, "every part needs 'Content-Disposition: form-data'")
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "manifest":
            if self.upload.manifest is not None or self._manifest is not None:
                raise UploadError(422, "the body has two 'manifest' parts")
            self._manifest = bytearray()
        elif name == "file":
            filename = options.get(b"filename", b"").decode("utf-8", "replace")
            if not filename:
                raise UploadError(422, "a 'file' part has no filename (it must be the file's path in the report)")
            if filename in self.upload.files or filename == self._file_name:
                raise UploadError(422, f"the body has two files named {_shown(filename)}")
            fd, temp = self.blobs.new_temp()
            self.upload.temps.append(temp)
            self._file = os.fdopen(fd, "wb")
            self._file_name = filename
            self._file_temp = temp
            self._file_size = 0
            self._hasher = hashlib.sha256()
        else:
            raise UploadError(422, f"unexpected part {_shown(name)}; a report has 'manifest' and 'file' parts")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]
        if self._manifest is not None:
            self._manifest += chunk
            if len(self._manifest) > MAX_MANIFEST_BYTES:
                raise UploadError(422, f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
        elif self._file is not None:
            self._file_size += len(chunk)
            if self._file_size > MAX_FILE_BYTES:
                raise UploadError(422, f"{_shown(self._file_name)} is larger than the limit of {MAX_FILE_BYTES} bytes")
            self._hasher.update(chunk)
            with storage_full_as_error(f"receiving {_shown(self._file_name)}"):
                self._file.write(chunk)

    def on_part_end(self) -> None:
        if self._manifest is not None:
            self.upload.manifest = bytes(self._manifest)
            self._manifest = None
        elif self._file is not None and self._file_temp is not None:
            # Buffered writes may only fail here, when the last block reaches the disk.
            with storage_full_as_error(f"receiving {_shown(self._file_name)}"):
                self._file.close()
            self.upload.files[self._file_name] = ReceivedFile(
                self._file_name, self._file_temp, self._file_size, self._hasher.hexdigest()
            )
            self._file = None
            self._file_name = ""
            self._file_temp = None

    def on_end(self) -> None:
        self.finished = True

    def close(self) -> None:
        # Only on the way out of a failed upload, whose temporary files are removed next: an
        # error flushing this one must not hide the error that ended the upload.
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


async def receive_upload(content_type: str, chunks: AsyncIterator[bytes], blobs: BlobBackend) -> Upload:
    """Parse a multipart body as it streams; files land in temporary files in the data directory.

    On any error the temporary files are removed and ``UploadError`` (or the body-limit
    error from the stream) propagates.
    """
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise UploadError(415, "a report is sent as multipart/form-data (parts 'manifest' and 'file')")
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadError(400, "the multipart Content-Type has no boundary")
    upload = Upload()
    reader = _PartReader(blobs, upload)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            if chunk:
                try:
                    parser.write(chunk)
                except UploadError:
                    raise
                except ValueError as exc:  # python-multipart's parse errors derive from ValueError
                    raise UploadError(400, f"the multipart body is malformed: {exc}") from None
        parser.finalize()
        if not reader.finished:
            raise UploadError(400, "the multipart body ended before its closing boundary")
    except BaseException:
        reader.close()
        upload.discard()
        raise
    return upload


@dataclass(frozen=True)
class IngestLimits:
    max_image_pixels: int


def parse_manifest(data: bytes) -> Report:
    try:
        return parse_report(data, what="the manifest")
    except ReportFormatError as exc:
        raise UploadError(422, str(exc)) from None


def ingest(
    store: Store,
    blobs: BlobBackend,
    upload: Upload,
    *,
    idempotency_key: str,
    submitter: str,
    limits: IngestLimits,
    language: str | None = None,
) -> tuple[TicketRow, bool]:
    """Validate the upload against its manifest, store its files, make (or find) the ticket.

    Returns ``(ticket, created)``; ``created`` is False for a replay of the same report.
    Raises ``UploadError`` for anything refused; the caller removes the temporary files.
    """
    if upload.manifest is None:
        raise UploadError(422, "the body has no 'manifest' part")
    report = parse_manifest(upload.manifest)
    report_id = str(report.id)
    if _canonical_uuid(idempotency_key) != report_id:
        raise UploadError(422, f"Idempotency-Key {_shown(idempotency_key)} is not the report id {report_id}")
    fingerprint = report.fingerprint()
    existing = store.find_by_report(report_id)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise UploadError(
                422,
                f"report {report_id} was already submitted with different content (ticket {existing.number}); "
                "a changed report needs a new id",
            )
        return existing, False

    refs = {ref.path: ref for ref in report.files()}
    _match_files(refs, upload.files)
    new_files = _check_contents(report, upload.files, limits)
    if report.walk_up and not report.source.site:
        raise UploadError(422, "a walk-up report needs source.site (the site whose queue it joins)")

    blobs.commit([(upload.files[f.path].temp, f.sha256) for f in new_files])
    new = NewTicket(
        report_id=report_id,
        fingerprint=fingerprint,
        manifest=report.canonical_json().decode("utf-8"),
        subject=report.subject(),
        description=report.description,
        category=report.category,
        source_kind=report.source.kind,
        source_id=report.source.id,
        site=report.source.site,
        reporter_name=report.reporter.name,
        reporter_email=report.reporter.email,
        walk_up=report.walk_up,
        step_count=len(report.steps),
        attachment_count=len(report.attachments),
        self_help_articles=list(report.self_help_articles),
        files=new_files,
        language=language,
    )
    try:
        return store.create_ticket(new, submitter)
    except IdempotencyConflictError as exc:  # a concurrent submission of another body won the race
        raise UploadError(422, str(exc)) from None


def _match_files(refs: dict[str, FileRef], received: dict[str, ReceivedFile]) -> None:
    extra = sorted(set(received) - set(refs))
    if extra:
        raise UploadError(422, f"files not named in the manifest: {', '.join(_shown(n) for n in extra[:10])}")
    missing = sorted(set(refs) - set(received))
    if missing:
        raise UploadError(422, f"files named in the manifest are missing: {', '.join(missing[:10])}")
    for path, ref in refs.items():
        got = received[path]
        if got.size != ref.size:
            raise UploadError(422, f"{path} is {got.size} bytes; the manifest says {ref.size}")
        if got.sha256 != ref.sha256:
            raise UploadError(422, f"{path} does not match its sha256 in the manifest")


def _check_contents(report: Report, received: dict[str, ReceivedFile], limits: IngestLimits) -> list[NewFile]:
    """Images are what they claim and within the pixel cap; clips are what the manifest says; sysinfo is JSON."""
    new_files: list[NewFile] = []

    def image(ref: FileRef) -> str:
        try:
            inspect_image(received[ref.path].temp, ref.path, ref.media_type, limits.max_image_pixels)
        except ImageRejectedError as exc:
            raise UploadError(422, str(exc)) from None
        return ref.media_type

    for index, step in enumerate(report.steps, start=1):
        new_files.append(_new_file(step.image, "step", index, image(step.image)))
        if step.original is not None:
            if step.original.media_type not in IMAGE_MEDIA_TYPES:
                raise UploadError(422, f"{step.original.path}: a step's original must be a PNG, JPEG or WebP image")
            new_files.append(_new_file(step.original, "original", index, image(step.original)))
    for attachment in report.attachments:
        ref = attachment.file
        if ref.media_type in IMAGE_MEDIA_TYPES:
            served = image(ref)
        elif ref.media_type in SAFE_ATTACHMENT_TYPES:
            served = ref.media_type
        else:
            served = "application/octet-stream"
        new_files.append(_new_file(ref, "attachment", None, served, attachment.display_name))
    for number, clip in enumerate(report.clips, start=1):
        _check_clip(clip, received[clip.file.path].temp, limits)
        name = clip.caption[:200] or f"Clip {number} ({clip.duration_ms / 1000:.1f} s)"
        new_files.append(_new_file(clip.file, _CLIP_ROLE, None, CLIP_MEDIA_TYPE, name))
    if report.sysinfo is not None:
        data = received[report.sysinfo.path].temp.read_bytes()[: MAX_SYSINFO_BYTES + 1]
        try:
            load_json_object(data, what=report.sysinfo.path)
        except JSONFormatError as exc:
            raise UploadError(422, str(exc)) from None
        new_files.append(_new_file(report.sysinfo, "sysinfo", None, "application/json"))
    return new_files


def _check_clip(clip: Clip, path: Path, limits: IngestLimits) -> None:
    """The clip's file is the animated WebP its manifest entry describes, within every bound."""
    where = clip.file.path
    try:
        facts = inspect_clip(path, where, limits.max_image_pixels)
    except ImageRejectedError as exc:
        raise UploadError(422, str(exc)) from None
    # A still (the screen never changed) carries no duration of its own: the manifest's stands.
    duration = facts.duration_ms if facts.animated else clip.duration_ms
    found = (facts.width, facts.height, facts.frames, duration)
    if found != (clip.width, clip.height, clip.frames, clip.duration_ms):
        raise UploadError(
            422,
            f"{where} is {facts.width}×{facts.height}, {facts.frames} frames, {duration} ms; the manifest says "
            f"{clip.width}×{clip.height}, {clip.frames} frames, {clip.duration_ms} ms",
        )


def _new_file(
    ref: FileRef, role: FileRole, step_index: int | None, media_type: str, display_name: str | None = None
) -> NewFile:
    return NewFile(
        path=ref.path,
        role=role,
        step_index=step_index,
        sha256=ref.sha256,
        size=ref.size,
        media_type=media_type,
        display_name=display_name,
    )


def _canonical_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _shown(text: str) -> str:
    """A client-sent name, quoted and shortened for an error message."""
    return repr(text[:100] + ("…" if len(text) > 100 else ""))
