"""Fitting a report to a ticket system's size limits before it is sent, or refusing it visibly.

Ticket systems bound what they take, and several do it quietly: Request Tracker drops or
truncates an attachment over ``$MaxAttachmentSize`` (when so configured) and still answers
"created". So a connector declares its limits (``Limits``) and ``fit_bundle`` makes the
report fit *before* sending: step images are re-encoded (lossless WebP, then lossy WebP at
full size), then downscaled step by step (75 %, 50 %, 35 %, 25 %), the factor recorded on the
step (``Step.downscale``) and every change listed in ``FitResult.notes`` for the ticket body.
Clips (animated WebP, schema version 2) are re-encoded whole as lossy WebP at 100 %, 75 % and
50 % of their size (``CLIP_LADDER``), from the clip as it came each time, so loss never adds up.
What cannot shrink (a log, the system information) or cannot shrink enough is refused with
a ``TooLargeError`` that names the file and the limit. Nothing is dropped.

The order. A file over the per-file limit is fitted on its own (its least lossy rung that fits),
so the order among files does not change the result. For the request limit, stills and clips
are one queue: the largest file takes its next rung first. That degrades the fewest files, and
it is the clip (several MB against a still's few hundred KB) that gives way before the stills
the person chose and marked up. A rung that does not make a file smaller is skipped (lossy WebP
of a flat screen with text can be larger than lossless).

Cost. A clip rung decodes one frame at a time and encodes as it goes (``agent.clips.shrink_clip``),
so memory is one decoded frame plus the encoded clips; time is at most three encodes per clip,
each bounded by the schema's bound on frames × pixels.

``submit_fitted`` adds the outbox's 413 rule: a refusal as too large triggers one more
fitting to a tighter request limit and one more try; a second refusal is final.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Final, TypeVar

from PIL import Image

from agent.bundle import BundleError, ReportBundle
from agent.connectors.base import TooLargeError
from agent.connectors.body import clip_attachment_name
from agent.connectors.common import attachment_name, format_size
from agent.schema import (
    CLIP_MEDIA_TYPE,
    IMAGE_EXTENSIONS,
    AnimationFacts,
    Clip,
    FileRef,
    MarkupItem,
    Report,
    Step,
    animation_facts,
    file_ref,
)

T = TypeVar("T")

# Encodings tried in order, each a (scale factor, lossy) rung. Full size lossy before any
# downscale: text in a screenshot stays readable through lossy WebP far better than through
# fewer pixels.
LADDER: Final[tuple[tuple[float, bool], ...]] = (
    (1.0, False),
    (1.0, True),
    (0.75, True),
    (0.5, True),
    (0.35, True),
    (0.25, True),
)
LOSSY_QUALITY: Final = 82
# A clip's rungs: scale factors of lossy WebP at LOSSY_QUALITY. No lossless rung (a clip is
# lossless WebP already) and nothing below half size: a clip's point is text and motion one can
# follow, and below 50 % of a screen neither is left.
CLIP_LADDER: Final[tuple[float, ...]] = (1.0, 0.75, 0.5)
WEBP_MAX_DIMENSION: Final = 16383  # libwebp's bound; wider images fall back to PNG or JPEG
DEFAULT_OVERHEAD_BYTES: Final = 64 * 1024  # ticket body, JSON or MIME framing, headers
AFTER_413_FACTOR: Final = 0.5  # after a refusal as too large, aim at half of what was sent

# Each ticket system's documented attachment limits: the defaults its connector fits to. A site that
# changed its system's setting says so in the backend's max_attachment_size / max_request_size.
MIB: Final = 1024 * 1024
JIRA_MAX_ATTACHMENT_BYTES: Final = 10 * MIB  # Jira Data Center's jira.attachment.size default (10485760)
SERVICENOW_MAX_ATTACHMENT_BYTES: Final = 1024 * MIB  # com.glide.attachment.max_size default, 1024 MB
ZENDESK_MAX_ATTACHMENT_BYTES: Final = 50 * MIB  # Zendesk: files attached to a ticket comment, 50 MB each
FRESHSERVICE_MAX_ATTACHMENTS_BYTES: Final = 40 * MIB  # Freshservice v2 create ticket: all attachments together
GITLAB_MAX_ATTACHMENT_BYTES: Final = 100 * MIB  # GitLab's "Maximum attachment size" default, 100 MiB
REDMINE_MAX_ATTACHMENT_BYTES: Final = 5120 * 1024  # Redmine's attachment_max_size default, 5120 KB


@dataclass(frozen=True)
class Limits:
    """What one ticket system accepts; None means no limit of that kind."""

    system: str
    max_file_bytes: int | None = None
    max_request_bytes: int | None = None
    # Bytes on the wire per byte of file: 4/3 where files travel base64-encoded (JSON, e-mail).
    wire_ratio: float = 1.0
    overhead_bytes: int = DEFAULT_OVERHEAD_BYTES
    file_limit_name: str = "attachment limit"
    request_limit_name: str = "request size limit"
    request_noun: str = "requests"  # what the request limit bounds, for messages: "messages" for e-mail

    def after_refusal(self, sent_wire_bytes: int) -> Limits:
        """Tighter limits after the system refused ``sent_wire_bytes`` as too large (HTTP 413, SMTP 552)."""
        target = int(sent_wire_bytes * AFTER_413_FACTOR)
        current = self.max_request_bytes
        return replace(
            self,
            max_request_bytes=target if current is None else min(current, target),
            request_limit_name=f"{self.request_limit_name} (it refused {format_size(sent_wire_bytes)})",
        )

    def describe(self) -> str:
        parts = []
        if self.max_file_bytes is not None:
            parts.append(f"files up to {format_size(self.max_file_bytes)} ({self.file_limit_name})")
        if self.max_request_bytes is not None:
            parts.append(f"{self.request_noun} up to {format_size(self.max_request_bytes)} ({self.request_limit_name})")
        return f"{self.system} accepts " + (", ".join(parts) if parts else "any size")


@dataclass(frozen=True)
class FitResult:
    """The bundle to send (the input itself when nothing had to change) and what was changed."""

    bundle: ReportBundle
    notes: tuple[str, ...] = ()
    wire_bytes: int = 0

    def manifest_bytes(self) -> bytes:
        """The fitted report's manifest (``ReportBundle.manifest_json``: made once, or as stored)."""
        return self.bundle.manifest_json()

    @property
    def changed(self) -> bool:
        return bool(self.notes)


def estimate_wire_bytes(bundle: ReportBundle, limits: Limits) -> int:
    """What the request will weigh: every file and the manifest, encoded, plus fixed overhead."""
    return _wire_bytes(bundle, limits, bundle.manifest_json())


def _wire_bytes(bundle: ReportBundle, limits: Limits, manifest: bytes) -> int:
    payload = bundle.total_bytes() + len(manifest)
    return int(payload * limits.wire_ratio) + limits.overhead_bytes


def _file_wire_bytes(size: int, limits: Limits) -> int:
    return int(size * limits.wire_ratio) if limits.wire_ratio > 1 else size


@dataclass
class _StepState:
    index: int  # position in report.steps
    tried: int = -1  # the last rung of LADDER tried
    applied: int = -1  # the rung whose encoding is in ``refs``; -1: the step as it came
    images: dict[str, bytes] = field(default_factory=dict)  # original path → current bytes
    refs: dict[str, FileRef] = field(default_factory=dict)  # original path → current ref
    size: tuple[int, int] | None = None  # the step image's pixels after the applied rung


@dataclass
class _ClipState:
    index: int  # position in report.clips
    tried: int = -1  # the last rung of CLIP_LADDER tried
    applied: int = -1  # the rung whose encoding is in ``data``; -1: the clip as it came
    data: bytes = b""
    facts: AnimationFacts | None = None


class _Fitter:
    def __init__(self, bundle: ReportBundle, limits: Limits) -> None:
        self.bundle = bundle
        self.limits = limits
        self.report = bundle.report
        self.states = [_StepState(index) for index in range(len(self.report.steps))]
        self.clip_states = [_ClipState(index) for index in range(len(self.report.clips))]
        self._decoded: dict[str, Image.Image] = {}

    # ------------------------------------------------------------ sizes
    def step_refs(self, state: _StepState) -> list[FileRef]:
        step = self.report.steps[state.index]
        return [step.image] if step.original is None else [step.image, step.original]

    def current_size(self, state: _StepState, ref: FileRef) -> int:
        return ref.size if state.applied < 0 else state.refs[ref.path].size

    def step_bytes(self, state: _StepState) -> int:
        return sum(self.current_size(state, ref) for ref in self.step_refs(state))

    def clip_bytes(self, state: _ClipState) -> int:
        return self.report.clips[state.index].file.size if state.applied < 0 else len(state.data)

    def total_wire_bytes(self) -> int:
        files = sum(ref.size for ref in self.report.files())
        for state in self.states:
            files += self.step_bytes(state) - sum(ref.size for ref in self.step_refs(state))
        for clip_state in self.clip_states:
            files += self.clip_bytes(clip_state) - self.report.clips[clip_state.index].file.size
        manifest = len(self.bundle.manifest_json())  # fitting changes files and states, never the report
        return int((files + manifest) * self.limits.wire_ratio) + self.limits.overhead_bytes

    # ------------------------------------------------------------ encoding
    def _decoded_image(self, ref: FileRef) -> Image.Image:
        image = self._decoded.get(ref.path)
        if image is None:
            try:
                with Image.open(io.BytesIO(self.bundle.files[ref.path])) as opened:
                    opened.load()
                    image = opened.copy()
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                raise TooLargeError(
                    f"{attachment_name(ref.path)} is too large for {self.limits.system} and cannot be "
                    f"re-encoded: {exc}",
                    system=self.limits.system,
                ) from exc
            self._decoded[ref.path] = image
        return image

    def advance(self, state: _StepState) -> bool:
        """Re-encode the step at the next rung that makes it smaller; False when no rung is left."""
        step = self.report.steps[state.index]
        while state.tried + 1 < len(LADDER):
            state.tried += 1
            factor, lossy = LADDER[state.tried]
            if not lossy and factor == 1.0 and step.image.media_type == "image/webp":
                continue  # WebP already; lossless WebP again would change nothing
            refs: dict[str, FileRef] = {}
            images: dict[str, bytes] = {}
            size: tuple[int, int] | None = None
            for ref in self.step_refs(state):
                data, media_type, pixels = _encode(self._decoded_image(ref), factor, lossy)
                refs[ref.path] = file_ref(_with_extension(ref.path, IMAGE_EXTENSIONS[media_type]), data, media_type)
                images[ref.path] = data
                if ref.path == step.image.path:
                    size = pixels
            if sum(r.size for r in refs.values()) >= self.step_bytes(state):
                continue  # this rung does not make the step smaller
            state.applied, state.refs, state.images, state.size = state.tried, refs, images, size
            return True
        return False

    def advance_clip(self, state: _ClipState) -> bool:
        """Re-encode the clip at the next rung that makes it smaller; False when no rung is left."""
        # Here, not at the top: only a report with a clip over a limit pays for loading the encoder.
        from agent.clips.encode import shrink_clip
        from agent.clips.recording import ClipError

        clip = self.report.clips[state.index]
        while state.tried + 1 < len(CLIP_LADDER):
            state.tried += 1
            try:
                # From the clip as it came, every time: lossy of lossy would add the losses up.
                data = shrink_clip(
                    self.bundle.files[clip.file.path],
                    scale=CLIP_LADDER[state.tried],
                    lossless=False,
                    quality=LOSSY_QUALITY,
                )
            except (ClipError, OSError, ValueError, Image.DecompressionBombError) as exc:
                raise TooLargeError(
                    f"{_clip_label(self.report, state.index)} is too large for {self.limits.system} and cannot "
                    f"be re-encoded: {exc}",
                    system=self.limits.system,
                ) from exc
            facts = animation_facts(data)
            if facts is None or len(data) >= self.clip_bytes(state):
                continue  # this rung does not make the clip smaller
            state.applied, state.data, state.facts = state.tried, data, facts
            return True
        return False

    # ------------------------------------------------------------ the result
    def result(self) -> FitResult:
        if all(state.applied < 0 for state in self.states) and all(s.applied < 0 for s in self.clip_states):
            return FitResult(self.bundle, (), self.total_wire_bytes())
        files = dict(self.bundle.files)
        steps: list[Step] = []
        notes: list[str] = []
        for state, step in zip(self.states, self.report.steps, strict=True):
            if state.applied < 0:
                steps.append(step)
                continue
            factor, lossy = LADDER[state.applied]
            for old_path, new_ref in state.refs.items():
                del files[old_path]
                files[new_ref.path] = state.images[old_path]
            new_image = state.refs[step.image.path]
            width, height = state.size or (step.width, step.height)
            steps.append(
                step.model_copy(
                    update={
                        "image": new_image,
                        "original": None if step.original is None else state.refs[step.original.path],
                        "width": width,
                        "height": height,
                        "downscale": step.downscale * factor,
                    }
                )
            )
            how = "lossy WebP" if lossy else "lossless WebP"
            scale = f"scaled to {factor * 100:.0f} % and " if factor < 1 else ""
            notes.append(
                f"Step {state.index + 1} was {scale}re-encoded as {how} "
                f"({format_size(step.image.size)} → {format_size(new_image.size)}) to fit: {self.limits.describe()}."
            )
        clips = [self._fitted_clip(state, files, notes) for state in self.clip_states]
        try:
            report = self.report.model_copy(update={"steps": steps, "clips": clips})
            # model_copy does not validate; round-trip through validation so every bound still holds.
            report = Report.model_validate(report.model_dump())
            fitted = ReportBundle(report, files)
            fitted.validate()
        except (ValueError, BundleError) as exc:  # a bug here must refuse visibly, never send a broken report
            raise TooLargeError(f"fitting the report to {self.limits.system} failed: {exc}") from exc
        return FitResult(fitted, tuple(notes), _wire_bytes(fitted, self.limits, fitted.manifest_json()))

    def _fitted_clip(self, state: _ClipState, files: dict[str, bytes], notes: list[str]) -> Clip:
        """The report's entry for the clip after its applied rung (the file put in ``files``), noted."""
        clip = self.report.clips[state.index]
        if state.applied < 0 or state.facts is None:
            return clip
        factor = CLIP_LADDER[state.applied]
        facts = state.facts
        files[clip.file.path] = state.data  # the same path: a clip is clips/NNN.webp whatever its encoding
        notes.append(
            f"Clip {state.index + 1} was {f'scaled to {factor * 100:.0f} % and ' if factor < 1 else ''}"
            f"re-encoded as lossy WebP ({format_size(clip.file.size)} → {format_size(len(state.data))}) "
            f"to fit: {self.limits.describe()}."
        )
        return clip.model_copy(
            update={
                "file": file_ref(clip.file.path, state.data, CLIP_MEDIA_TYPE),
                "width": facts.width,
                "height": facts.height,
                # libwebp merges frames that scaling made equal; their durations add up, the total stays.
                "frames": facts.frames,
                # A still (every frame the same) states its length in the manifest only.
                "duration_ms": facts.duration_ms if facts.animated else clip.duration_ms,
                "redactions": [_scaled(item, factor) for item in clip.redactions],
            }
        )


def _scaled(item: MarkupItem, factor: float) -> MarkupItem:
    """A redaction box in the pixels of the clip scaled by ``factor`` (it still shows where it is)."""
    if factor == 1.0:
        return item
    return item.model_copy(update={"points": [(x * factor, y * factor) for x, y in item.points]})


def _clip_label(report: Report, index: int) -> str:
    """``clip 2 (clip-002.webp, "what just happened")``: how a refusal names a clip."""
    clip = report.clips[index]
    caption = clip.caption.strip()
    if len(caption) > 60:
        caption = caption[:59] + "…"
    shown = f', "{caption}"' if caption else ""
    return f"clip {index + 1} ({clip_attachment_name(clip.file.path, report.id)}{shown})"


def _with_extension(path: str, extension: str) -> str:
    return path.rsplit(".", 1)[0] + "." + extension


def _encode(image: Image.Image, factor: float, lossy: bool) -> tuple[bytes, str, tuple[int, int]]:
    """Encode ``image`` scaled by ``factor``: WebP, or PNG/JPEG for images wider than WebP allows."""
    if factor < 1.0:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    buffer = io.BytesIO()
    if max(image.size) <= WEBP_MAX_DIMENSION:
        if lossy:
            image.save(buffer, "WEBP", quality=LOSSY_QUALITY, method=4)
        else:
            image.save(buffer, "WEBP", lossless=True, quality=0, method=0)
        media_type = "image/webp"
    elif lossy:
        image.convert("RGB").save(buffer, "JPEG", quality=LOSSY_QUALITY, optimize=True)
        media_type = "image/jpeg"
    else:
        image.save(buffer, "PNG", compress_level=6)
        media_type = "image/png"
    return buffer.getvalue(), media_type, image.size


def fit_bundle(bundle: ReportBundle, limits: Limits) -> FitResult:
    """``bundle`` made to fit ``limits``, or a ``TooLargeError`` naming what does not fit and the limit."""
    if limits.max_file_bytes is None and limits.max_request_bytes is None:
        return FitResult(bundle, (), _wire_bytes(bundle, limits, bundle.manifest_json()))
    if limits.max_request_bytes is None and limits.max_file_bytes is not None:
        # Only a per-file limit, and every file and the manifest within it: what the steps below come to
        # (no refusal, no rung, the bundle as it came), without setting them up.
        manifest = bundle.manifest_json()
        refs = bundle.report.files()
        per_file = limits.max_file_bytes
        if _file_wire_bytes(len(manifest), limits) <= per_file and all(
            _file_wire_bytes(ref.size, limits) <= per_file for ref in refs
        ):
            files = sum(ref.size for ref in refs)
            wire = int((files + len(manifest)) * limits.wire_ratio) + limits.overhead_bytes
            return FitResult(bundle, (), wire)
    fitter = _Fitter(bundle, limits)
    report = bundle.report
    # What can shrink: the step images and the clips. Everything else goes as it is.
    shrinkable = {ref.path for state in fitter.states for ref in fitter.step_refs(state)}
    shrinkable |= {clip.file.path for clip in report.clips}
    max_file = limits.max_file_bytes
    if max_file is not None:
        # Files that cannot shrink: the extra attachments, the system information, the manifest.
        for ref in report.files():
            if ref.path not in shrinkable and _file_wire_bytes(ref.size, limits) > max_file:
                raise TooLargeError(_file_refusal(report, ref.path, ref.size, limits), system=limits.system)
        manifest_size = len(bundle.manifest_json())
        if _file_wire_bytes(manifest_size, limits) > max_file:
            raise TooLargeError(
                f"the report's manifest is {format_size(manifest_size)}; {limits.describe()}", system=limits.system
            )
        # Each step image on its own.
        for state in fitter.states:
            while any(
                _file_wire_bytes(fitter.current_size(state, ref), limits) > max_file for ref in fitter.step_refs(state)
            ):
                if not fitter.advance(state):
                    step = report.steps[state.index]
                    raise TooLargeError(
                        f"step {state.index + 1} ({attachment_name(step.image.path)}) stays over "
                        f"{format_size(max_file)} even scaled to {LADDER[-1][0] * 100:.0f} %; {limits.describe()}",
                        system=limits.system,
                    )
        # Each clip on its own, after the stills: each file gets its own least lossy rung that fits,
        # so the order does not change the result, and the cheap refusals come first.
        for clip_state in fitter.clip_states:
            while _file_wire_bytes(fitter.clip_bytes(clip_state), limits) > max_file:
                if not fitter.advance_clip(clip_state):
                    raise TooLargeError(
                        f"{_clip_label(report, clip_state.index)} stays over {format_size(max_file)} even "
                        f"scaled to {CLIP_LADDER[-1] * 100:.0f} % as lossy WebP; {limits.describe()}",
                        system=limits.system,
                    )
    max_request = limits.max_request_bytes
    if max_request is not None:
        # What no shrinking can change must fit on its own; name the largest such file if not.
        fixed = [ref for ref in report.files() if ref.path not in shrinkable]
        fixed_wire = int((sum(r.size for r in fixed) + len(bundle.manifest_json())) * limits.wire_ratio)
        if fixed and fixed_wire + limits.overhead_bytes > max_request:
            largest = max(fixed, key=lambda r: r.size)
            raise TooLargeError(_file_refusal(report, largest.path, largest.size, limits), system=limits.system)
        # The request as a whole: the largest file, still or clip, takes its next rung until it fits.
        shrinkers: list[tuple[Callable[[], int], Callable[[], bool]]] = [
            (partial(fitter.step_bytes, state), partial(fitter.advance, state)) for state in fitter.states
        ]
        shrinkers += [
            (partial(fitter.clip_bytes, clip_state), partial(fitter.advance_clip, clip_state))
            for clip_state in fitter.clip_states
        ]
        while fitter.total_wire_bytes() > max_request:
            by_size = sorted(shrinkers, key=lambda shrinker: shrinker[0](), reverse=True)
            if not any(advance() for _size, advance in by_size):
                what = "every step image and clip" if report.clips else "every step image"
                raise TooLargeError(
                    f"the report needs {format_size(fitter.total_wire_bytes())} even with {what} shrunk "
                    f"as far as ShowDesk goes; {limits.describe()}",
                    system=limits.system,
                )
    return fitter.result()


def _file_refusal(report: Report, path: str, size: int, limits: Limits) -> str:
    name = attachment_name(path, report.id)
    shown = next((a.display_name for a in report.attachments if a.file.path == path), None)
    label = f"{name} ({shown})" if shown and shown != name else name
    return f"{label} is {format_size(size)} and cannot be made smaller; {limits.describe()}"


def submit_fitted(bundle: ReportBundle, limits: Limits, send: Callable[[FitResult], T]) -> T:
    """Fit, send; on a refusal as too large, fit once more to tighter limits and send again; then give up."""
    fitted = fit_bundle(bundle, limits)
    try:
        return send(fitted)
    except TooLargeError as first:
        try:
            refitted = fit_bundle(bundle, limits.after_refusal(fitted.wire_bytes))
        except TooLargeError as exc:
            raise TooLargeError(
                f"{first.reason}; shrinking it further did not help: {exc.reason}",
                system=first.system,
                status=first.status,
            ) from exc
        if refitted.wire_bytes >= fitted.wire_bytes:
            raise TooLargeError(
                f"{first.reason}; the report cannot be made any smaller", system=first.system, status=first.status
            ) from first
        try:
            return send(refitted)
        except TooLargeError as second:
            raise TooLargeError(
                f"{second.reason} (refused again after shrinking from {format_size(fitted.wire_bytes)} "
                f"to {format_size(refitted.wire_bytes)})",
                system=second.system,
                status=second.status,
            ) from second


__all__ = [
    "CLIP_LADDER",
    "FRESHSERVICE_MAX_ATTACHMENTS_BYTES",
    "GITLAB_MAX_ATTACHMENT_BYTES",
    "JIRA_MAX_ATTACHMENT_BYTES",
    "LADDER",
    "REDMINE_MAX_ATTACHMENT_BYTES",
    "SERVICENOW_MAX_ATTACHMENT_BYTES",
    "ZENDESK_MAX_ATTACHMENT_BYTES",
    "FitResult",
    "Limits",
    "estimate_wire_bytes",
    "fit_bundle",
    "submit_fitted",
]
