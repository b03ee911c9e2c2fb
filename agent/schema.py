"""The one report schema, shared by the agent, the connectors and the built-in server.

A report is a manifest (this model) plus the files it names (step images, extra
attachments, ``sysinfo.json``). Every field is bounded so a hostile or broken client
is refused with an error naming the bound, before its bytes are trusted.

This module imports only pydantic, the standard library, ``agent.report_format`` (the plain
values it is built on) and ``agent.read_models`` (the read side's models, re-exported here):
the server imports it and nothing else from ``agent``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.main import IncEx

# The read side's models (the server's answers as the clients read them) are part of the schema's
# interface too: the server imports them from here, as it imports nothing else of the agent.
from agent.read_models import (
    ArticleCount,
    BoardEntry,
    Caller,
    CategoryCount,
    Change,
    ChangePage,
    DurationSummary,
    Figures,
    MachineCount,
    QueueBoard,
    QueueCall,
    QueuePlace,
    QueueState,
    ReporterInfo,
    RoleName,
    SelfHelpFigures,
    SourceInfo,
    StatusName,
    TicketSummary,
)
from agent.report_format import (
    CLIP_MEDIA_TYPE,
    CLIPS_SCHEMA_VERSION,
    EMAIL_PATTERN,
    FIRST_SCHEMA_VERSION,
    IMAGE_EXTENSIONS,
    IMAGE_MEDIA_TYPES,
    LANGUAGE_PATTERN,
    MANIFEST_PATH,
    MAX_ATTACHMENTS,
    MAX_CAPTION_CHARS,
    MAX_CLIP_BYTES,
    MAX_CLIP_DURATION_MS,
    MAX_CLIP_FRAME_PIXELS,
    MAX_CLIP_FRAMES,
    MAX_CLIPS,
    MAX_COORDINATE,
    MAX_DESCRIPTION_CHARS,
    MAX_EMAIL_CHARS,
    MAX_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_JSON_DEPTH,
    MAX_JSON_INTEGER,
    MAX_MARKUP_ITEMS,
    MAX_MONITOR_INDEX,
    MAX_SCALE,
    MAX_SHORT_TEXT_CHARS,
    MAX_STEPS,
    MAX_SYSINFO_BYTES,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    SYSINFO_PATH,
    AnimationFacts,
    JSONFormatError,
    animation_facts,
    canonical_json_bytes,
    load_json_object,
    schema_version_for,
    sha256_hex,
    sniff_image_type,
)

# Paths inside a report are ours, never a client's file name: a fixed shape, so no
# traversal, no absolute paths, no surprises on any file system.
_PATH_RE = re.compile(
    r"^(steps|attachments)/[0-9]{3}\.(png|jpg|webp|bin|txt|json|log|pdf)$|^clips/[0-9]{3}\.webp$|^sysinfo\.json$"
)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _check_path(value: str) -> str:
    if not _PATH_RE.match(value):
        raise ValueError(
            f"file path {value!r} is not one ShowDesk writes (steps/NNN.ext, attachments/NNN.ext, clips/NNN.webp)"
        )
    return value


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ValueError("text must not contain control characters")
    return value


ShortText = Annotated[str, StringConstraints(max_length=MAX_SHORT_TEXT_CHARS), AfterValidator(_no_control_chars)]
Caption = Annotated[str, StringConstraints(max_length=MAX_CAPTION_CHARS), AfterValidator(_no_control_chars)]
LongText = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS), AfterValidator(_no_control_chars)]
BundlePath = Annotated[str, AfterValidator(_check_path)]
Sha256 = Annotated[str, StringConstraints(pattern=_SHA256_RE.pattern)]
ImageMediaType = Literal["image/png", "image/jpeg", "image/webp"]


class _Model(BaseModel):
    # Unknown fields are an error, not silently dropped: a newer client must bump the
    # schema version rather than send data an older server would lose.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Geometry(_Model):
    """A rectangle on the virtual desktop, in physical pixels."""

    left: int = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)
    top: int = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)
    width: int = Field(gt=0, le=MAX_COORDINATE)
    height: int = Field(gt=0, le=MAX_COORDINATE)


class Monitor(_Model):
    """The screen a shot came from."""

    index: int = Field(
        ge=0, le=MAX_MONITOR_INDEX, description="mss numbering: 1.. for real monitors, 0 for all of them"
    )
    name: ShortText | None = None
    geometry: Geometry
    scale: float = Field(default=1.0, gt=0, le=MAX_SCALE, description="device-pixel ratio")


class MarkupItem(_Model):
    """One mark-up element, kept as data beside the flattened image so it can be toggled."""

    kind: Literal["arrow", "rectangle", "highlight", "text", "marker", "redaction", "crop"]
    points: list[tuple[float, float]] = Field(max_length=64)
    text: ShortText = ""
    color: Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")] = "#e5484d"
    width: float = Field(default=4.0, gt=0, le=100)


class FileRef(_Model):
    """A file of the report: where it is in the bundle, its digest and size."""

    path: BundlePath
    sha256: Sha256
    size: int = Field(ge=0, le=MAX_FILE_BYTES)
    media_type: ShortText


class Step(_Model):
    """A shot with its caption and mark-up, in the order the person showed it."""

    image: FileRef
    width: int = Field(gt=0, le=MAX_COORDINATE)
    height: int = Field(gt=0, le=MAX_COORDINATE)
    caption: Caption = ""
    monitor: Monitor | None = None
    captured_at: datetime
    capture_method: ShortText = Field(default="mss", description="how it was taken: mss, portal, photo, file")
    capture_notes: ShortText = Field(default="", description="what the capture could not include")
    downscale: float = Field(default=1.0, gt=0, le=1, description="factor applied to fit a backend's limit")
    markup: list[MarkupItem] = Field(default_factory=list, max_length=MAX_MARKUP_ITEMS)
    original: FileRef | None = Field(
        default=None, description="the image before mark-up, absent when redaction must destroy pixels"
    )

    @field_validator("image")
    @classmethod
    def _image_type(cls, ref: FileRef) -> FileRef:
        if ref.media_type not in IMAGE_MEDIA_TYPES:
            raise ValueError(f"step image must be one of {', '.join(IMAGE_MEDIA_TYPES)}")
        return ref


class Attachment(_Model):
    """An extra file the person added (a log, a photo taken elsewhere)."""

    file: FileRef
    display_name: ShortText = Field(description="shown to people only; never used as a path")


class Clip(_Model):
    """A short screen recording (schema version 2): an animated WebP and the facts a viewer needs first.

    The facts must agree with the file (the bundle loader and the server check them), so a viewer
    can show a clip's length and size, and refuse an oversized one, before fetching a byte of it.
    Redaction boxes are burnt into every frame; they travel here only to show where they are.
    """

    file: FileRef
    width: int = Field(gt=0, le=MAX_COORDINATE, description="the canvas, in pixels")
    height: int = Field(gt=0, le=MAX_COORDINATE)
    frames: int = Field(gt=0, le=MAX_CLIP_FRAMES, description="ANMF frames in the file")
    duration_ms: int = Field(gt=0, le=MAX_CLIP_DURATION_MS, description="the sum of the frames' durations")
    origin: Literal["recording", "replay"] = Field(
        default="recording", description="recorded on purpose, or taken from the instant replay"
    )
    caption: Caption = ""
    monitor: Monitor | None = None
    region: Geometry | None = Field(default=None, description="where on the desktop the frames were taken")
    started_at: datetime
    capture_notes: ShortText = Field(default="", description="what the recording could not include")
    redactions: list[MarkupItem] = Field(default_factory=list, max_length=MAX_MARKUP_ITEMS)

    @field_validator("file")
    @classmethod
    def _clip_file(cls, ref: FileRef) -> FileRef:
        if ref.media_type != CLIP_MEDIA_TYPE or not ref.path.startswith("clips/"):
            raise ValueError(f"a clip is an animated WebP ({CLIP_MEDIA_TYPE}) stored as clips/NNN.webp")
        if ref.size > MAX_CLIP_BYTES:
            raise ValueError(f"a clip is at most {MAX_CLIP_BYTES} bytes; this one is {ref.size}")
        return ref

    @field_validator("redactions")
    @classmethod
    def _only_redactions(cls, items: list[MarkupItem]) -> list[MarkupItem]:
        if any(item.kind != "redaction" for item in items):
            raise ValueError("a clip's mark-up is redaction boxes only")
        return items

    @model_validator(mode="after")
    def _within_pixel_bounds(self) -> Clip:
        if self.width * self.height > MAX_IMAGE_PIXELS:
            raise ValueError(f"a clip's canvas of {self.width}x{self.height} is over {MAX_IMAGE_PIXELS} pixels")
        if self.frames * self.width * self.height > MAX_CLIP_FRAME_PIXELS:
            raise ValueError(
                f"{self.frames} frames of {self.width}x{self.height} are over the bound of "
                f"{MAX_CLIP_FRAME_PIXELS} frame pixels"
            )
        return self

    @field_validator("started_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("started_at must carry a time zone")
        return value


class Reporter(_Model):
    name: ShortText | None = None
    email: Annotated[str, StringConstraints(max_length=MAX_EMAIL_CHARS, pattern=EMAIL_PATTERN)] | None = None
    badge_id: ShortText | None = None
    language: Annotated[str, StringConstraints(max_length=16, pattern=LANGUAGE_PATTERN)] | None = Field(
        default=None, description="from schema version 2: the person's language (the kiosk's choice)"
    )


class Source(_Model):
    """Where a report came from."""

    kind: Literal["kiosk", "agent", "cli", "import"]
    id: ShortText = Field(min_length=1, description="kiosk id or agent hostname")
    site: ShortText | None = None
    app_version: ShortText = ""


class Report(_Model):
    """What a person submits. ``id`` is client-made and is the idempotency key end to end."""

    schema_version: int = Field(
        default=FIRST_SCHEMA_VERSION,
        description="the oldest version that holds the report: 1, or 2 when it carries clips",
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reporter: Reporter = Field(default_factory=Reporter)
    category: ShortText = ""
    description: LongText = ""
    steps: list[Step] = Field(default_factory=list, max_length=MAX_STEPS)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    clips: list[Clip] = Field(default_factory=list, max_length=MAX_CLIPS, description="from schema version 2")
    sysinfo: FileRef | None = None
    source: Source
    walk_up: bool = Field(default=False, description="a kiosk check-in: place the ticket in the site's queue")
    self_help_articles: list[ShortText] = Field(
        default_factory=list, max_length=20, description="articles the person was shown before reporting"
    )

    @model_validator(mode="before")
    @classmethod
    def _version_from_content(cls, data: object) -> object:
        """A report made in code without a version gets the oldest one that holds it.

        A manifest always states its version, and a stated version is checked against what the
        report carries (``_unique_paths``): a version-1 manifest with a clip is refused.
        """
        if isinstance(data, dict) and "schema_version" not in data:
            reporter = data.get("reporter")
            language = reporter.get("language") if isinstance(reporter, dict) else getattr(reporter, "language", None)
            data = {**data, "schema_version": schema_version_for(
                clips=len(data.get("clips") or ()), language=language is not None
            )}
        return data

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version not in SCHEMA_VERSIONS:
            raise ValueError(
                f"unknown schema version {version}; this ShowDesk reads versions "
                f"{FIRST_SCHEMA_VERSION} to {SCHEMA_VERSION}: update it to read this report"
            )
        return version

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("created_at must carry a time zone")
        return value

    @model_validator(mode="after")
    def _unique_paths(self) -> Report:
        paths = [ref.path for ref in self.files()]
        if len(paths) != len(set(paths)):
            raise ValueError("two files of the report share one path")
        if self.sysinfo is not None and self.sysinfo.path != SYSINFO_PATH:
            raise ValueError(f"system information must be stored as {SYSINFO_PATH}")
        if self.sysinfo is not None and self.sysinfo.size > MAX_SYSINFO_BYTES:
            raise ValueError(f"system information is larger than {MAX_SYSINFO_BYTES} bytes")
        if self.clips and self.schema_version < CLIPS_SCHEMA_VERSION:
            raise ValueError(f"clips need schema version {CLIPS_SCHEMA_VERSION}; the report says {self.schema_version}")
        if self.reporter.language is not None and self.schema_version < CLIPS_SCHEMA_VERSION:
            raise ValueError(
                f"the person's language needs schema version {CLIPS_SCHEMA_VERSION}; the report says "
                f"{self.schema_version}"
            )
        return self

    def files(self) -> list[FileRef]:
        """Every file the manifest names, in bundle order."""
        refs: list[FileRef] = []
        for step in self.steps:
            refs.append(step.image)
            if step.original is not None:
                refs.append(step.original)
        refs.extend(a.file for a in self.attachments)
        refs.extend(c.file for c in self.clips)
        if self.sysinfo is not None:
            refs.append(self.sysinfo)
        return refs

    def subject(self) -> str:
        """A one-line summary for ticket systems that want a subject."""
        first_line = self.description.strip().splitlines()[0] if self.description.strip() else ""
        label = self.category or "Problem report"
        text = f"{label}: {first_line}" if first_line else label
        return text[:120]

    def canonical_json(self) -> bytes:
        """The manifest as stored in a bundle: stable bytes for the same report.

        A version-1 report is written without the ``clips`` and ``reporter.language`` keys, exactly as
        version 1 wrote it: a reader of version 1 reads it, and its fingerprint is the one a
        version-1 server stored.
        """
        exclude: dict[str, IncEx | bool] | None = None
        if self.schema_version < CLIPS_SCHEMA_VERSION:
            exclude = {"clips": True, "reporter": {"language"}}
        return canonical_json_bytes(self.model_dump(mode="json", exclude=exclude))

    def fingerprint(self) -> str:
        """sha256 of the canonical manifest; it covers every file through their digests.

        The server compares fingerprints to tell a replay (same key, same body) from a
        conflict (same key, different body).
        """
        return sha256_hex(self.canonical_json())


class Ticket(_Model):
    """What a backend made of a report."""

    id: ShortText
    number: ShortText
    status: ShortText = "new"
    url: Annotated[str, StringConstraints(max_length=2000)] = ""
    report_id: uuid.UUID | None = None


def file_ref(path: str, data: bytes, media_type: str) -> FileRef:
    return FileRef(path=path, sha256=sha256_hex(data), size=len(data), media_type=media_type)


# The report format's plain facts are part of the schema's interface: callers import them from here.
class ReportFormatError(ValueError):
    """Bytes that are not a valid report manifest; the message says why, for a person to read."""


def describe_validation_error(exc: ValidationError) -> str:
    """pydantic's errors as one readable line: field path and message for each (the first five)."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "report"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_report(data: bytes, *, what: str = MANIFEST_PATH) -> Report:
    """The report in a manifest's bytes, within every bound, or ReportFormatError naming ``what``.

    The one reading of a manifest: the bundle loader and the server's ingest both call it.
    """
    try:
        raw = load_json_object(data, what=what)
    except JSONFormatError as exc:
        raise ReportFormatError(str(exc)) from None
    try:
        return Report.model_validate(raw)
    except ValidationError as exc:
        raise ReportFormatError(f"{what} is not a valid report: {describe_validation_error(exc)}") from None


__all__ = [
    "CLIPS_SCHEMA_VERSION",
    "CLIP_MEDIA_TYPE",
    "EMAIL_PATTERN",
    "FIRST_SCHEMA_VERSION",
    "IMAGE_EXTENSIONS",
    "IMAGE_MEDIA_TYPES",
    "MANIFEST_PATH",
    "MAX_ATTACHMENTS",
    "MAX_CAPTION_CHARS",
    "MAX_CLIPS",
    "MAX_CLIP_BYTES",
    "MAX_CLIP_DURATION_MS",
    "MAX_CLIP_FRAMES",
    "MAX_CLIP_FRAME_PIXELS",
    "MAX_COORDINATE",
    "MAX_DESCRIPTION_CHARS",
    "MAX_EMAIL_CHARS",
    "MAX_FILE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INTEGER",
    "MAX_MARKUP_ITEMS",
    "MAX_MONITOR_INDEX",
    "MAX_SCALE",
    "MAX_SHORT_TEXT_CHARS",
    "MAX_STEPS",
    "MAX_SYSINFO_BYTES",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "SYSINFO_PATH",
    "AnimationFacts",
    "ArticleCount",
    "Attachment",
    "BoardEntry",
    "BundlePath",
    "Caller",
    "Caption",
    "CategoryCount",
    "Change",
    "ChangePage",
    "Clip",
    "DurationSummary",
    "Figures",
    "FileRef",
    "Geometry",
    "ImageMediaType",
    "JSONFormatError",
    "LongText",
    "MachineCount",
    "MarkupItem",
    "Monitor",
    "QueueBoard",
    "QueueCall",
    "QueuePlace",
    "QueueState",
    "Report",
    "ReportFormatError",
    "Reporter",
    "ReporterInfo",
    "RoleName",
    "SelfHelpFigures",
    "ShortText",
    "Source",
    "SourceInfo",
    "StatusName",
    "Step",
    "Ticket",
    "TicketSummary",
    "animation_facts",
    "canonical_json_bytes",
    "describe_validation_error",
    "file_ref",
    "load_json_object",
    "parse_report",
    "schema_version_for",
    "sha256_hex",
    "sniff_image_type",
]
