"""A clip into a report bundle in one call: what ``showdesk capture --clip SECONDS`` runs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agent.capture import Rect
from agent.clips.encode import encode_clip
from agent.clips.recorder import DEFAULT_FPS, CaptureTarget, ClipRecorder
from agent.clips.recording import ClipError

if TYPE_CHECKING:
    from agent.bundle import ReportBundle


def record_clip_to_bundle(
    seconds: float,
    *,
    monitor: int | None = None,
    region: Rect | tuple[int, int, int, int] | None = None,
    display: str | None = None,
    fps: float = DEFAULT_FPS,
    caption: str = "",
    description: str = "",
    category: str = "",
    reporter_name: str | None = None,
    reporter_email: str | None = None,
    source_kind: str = "cli",
    source_id: str = "unknown",
    app_version: str = "",
    sysinfo: Mapping[str, object] | None = None,
) -> ReportBundle:
    """Record ``seconds`` of monitor ``monitor`` (default 1) or ``region``, encode it, bundle it.

    Blocks for the recording and the encode. Raises :class:`ClipError` when the screen cannot be
    captured, the clip is over a bound, or the report's fields are not valid (the message says
    which).
    """
    from agent.bundle import BundleError, build_bundle
    from agent.schema import Report, Reporter, Source

    target = CaptureTarget(
        monitor=1 if monitor is None else monitor,
        region=None if region is None else Rect(*region),
        display=display,
    )
    recorder = ClipRecorder(target, fps=fps, max_seconds=seconds)
    recorder.start()
    # The recorder ends by itself at its length cap (or its memory cap); wait for it to.
    recorder.wait()
    recording = recorder.stop()
    clip = encode_clip(recording)
    try:
        base = Report(
            id=uuid.uuid4(),
            created_at=datetime.now(UTC),
            reporter=Reporter(name=reporter_name, email=reporter_email),
            category=category,
            description=description,
            source=Source(kind=source_kind, id=source_id[:200] or "unknown", app_version=app_version),  # type: ignore[arg-type]
        )
        return build_bundle(base, clips=[clip.draft(caption)], sysinfo=None if sysinfo is None else dict(sysinfo))
    except (BundleError, ValueError) as exc:
        raise ClipError(f"the clip's report is not valid: {exc}") from exc
