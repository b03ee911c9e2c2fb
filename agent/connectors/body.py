"""The readable ticket body every outside system gets: description, steps with captions, clips
(caption, length, frames), who and where from, what fitting changed, and a summary of the system
information with its flags.

The same content comes as plain text (Request Tracker, GLPI, the e-mail's text part) and as
HTML (the e-mail's HTML part with the steps inline, Zammad's article). The last line names the
report id, so a person (and a connector looking for a lost ticket) can match a ticket to its
report.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Final

from agent.bundle import ReportBundle
from agent.connectors.common import attachment_name, format_size
from agent.flags import Flag, Severity, compute_flags
from agent.schema import SYSINFO_PATH, Clip, Report, Step

REPORT_MARKER: Final = "ShowDesk report id:"
_WALK_UP: Final = "walk-up check-in at a kiosk"
_CLIP_PATH: Final = re.compile(r"^clips/([0-9]{3})\.webp$")


class TicketBody:
    """A report's body as plain text and as HTML, each made when first read.

    Most systems take one of the two: making only that one halves the work. Everything either is made
    of is taken when the body is: the report (a frozen model), the notes, the inline images and the
    system information (``system``, whose flags also give the report's urgency).
    """

    def __init__(self, report: Report, notes: Sequence[str], system: SystemFacts,
                 inline_images: Mapping[str, str]) -> None:
        self._report = report
        self._notes = tuple(notes)
        self.system = system
        self._inline = dict(inline_images)
        self._text: str | None = None
        self._html: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _text(self._report, self._notes, self.system.summary())
        return self._text

    @property
    def html(self) -> str:
        if self._html is None:
            self._html = _html(self._report, self._notes, self.system.summary(), self._inline)
        return self._html

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TicketBody):
            return NotImplemented
        return (self.text, self.html) == (other.text, other.html)

    def __hash__(self) -> int:
        return hash((self.text, self.html))

    def __repr__(self) -> str:
        return f"TicketBody(text={self.text!r}, html={self.html!r})"


def marker_line(report: Report) -> str:
    return f"{REPORT_MARKER} {report.id}"


class SystemFacts:
    """A report's system information read once, for the body's summary and the urgency alike.

    The body shows the flags (``format_text`` puts them first) and the urgency is the most severe of
    them (``agent.connectors.urgency``): a connector that sends both read the file, parsed it and
    worked out its flags twice for every ticket. Each part is made when first read.
    """

    def __init__(self, data: bytes | None) -> None:
        self._data = data

    @classmethod
    def of(cls, bundle: ReportBundle) -> SystemFacts:
        return cls(bundle.files.get(SYSINFO_PATH))

    @cached_property
    def _parsed(self) -> tuple[dict[str, object] | None, str | None]:
        """The snapshot, or None with what the summary says instead (None too when there is no file)."""
        if self._data is None:
            return None, None
        try:
            snapshot = json.loads(self._data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None, "System information: attached as sysinfo.json (not readable as JSON)"
        if not isinstance(snapshot, dict):
            return None, "System information: attached as sysinfo.json"
        return snapshot, None

    @property
    def snapshot(self) -> dict[str, object] | None:
        """The parsed snapshot; None without the file or when it is not a JSON object."""
        return self._parsed[0]

    @cached_property
    def flags(self) -> list[Flag]:
        """``agent.flags.compute_flags`` of the snapshot, most severe first; none without one."""
        snapshot = self.snapshot
        return compute_flags(snapshot) if snapshot is not None else []

    @property
    def severity(self) -> Severity | None:
        """The most severe flag's; None without a flag (or without the file)."""
        flags = self.flags
        return flags[0].severity if flags else None

    @cached_property
    def _summary(self) -> str | None:
        snapshot, unreadable = self._parsed
        if snapshot is None:
            return unreadable
        from agent.sysinfo import format_text  # psutil and friends load only when a body is made

        return format_text(snapshot, flags=self.flags).rstrip("\n")

    def summary(self) -> str | None:
        """``agent.sysinfo.format_text`` of the snapshot (flags first); a line saying so when unreadable; or None."""
        return self._summary


def _minute(moment: datetime) -> str:
    """``moment.strftime("%Y-%m-%d %H:%M %Z").strip()``, without strftime.

    Why: with the caches cold after a report's uploads, the C library's strftime (and its look at the
    locale) was most of what the body's facts cost.
    """
    zone = moment.tzname() or ""
    return f"{moment.year}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d} {zone}".strip()


def _reporter_line(report: Report) -> str | None:
    who = report.reporter
    parts = [who.name or "", f"<{who.email}>" if who.email else ""]
    text = " ".join(p for p in parts if p)
    if who.badge_id:
        text = f"{text} (badge {who.badge_id})" if text else f"badge {who.badge_id}"
    return text or None


def _source_line(report: Report) -> str:
    source = report.source
    kinds = {"kiosk": "kiosk", "agent": "laptop agent", "cli": "command line", "import": "imported bundle"}
    text = f"{kinds.get(source.kind, source.kind)} {source.id}"
    if source.site:
        text += f" at site {source.site}"
    if source.app_version:
        text += f" (ShowDesk {source.app_version})"
    if report.walk_up:
        text += f"; {_WALK_UP}"
    return text


def clip_attachment_name(path: str, report_id: uuid.UUID | None = None) -> str:
    """The file name a clip gets in a ticket system: ``clips/001.webp`` → ``clip-001.webp``.

    ``common.attachment_name`` names every other file of a report; until it names clips too, they
    are named here, the same way it names steps, and whatever it says wins once it does.
    """
    try:
        return attachment_name(path, report_id)
    except ValueError:
        if match := _CLIP_PATH.match(path):
            return f"clip-{match.group(1)}.webp"
        raise


def _seconds(duration_ms: int) -> str:
    return f"{duration_ms / 1000:.1f} s"


def _clip_facts(clip: Clip, report: Report) -> str:
    frames = "1 frame (the screen did not change)" if clip.frames == 1 else f"{clip.frames} frames"
    facts = [
        clip_attachment_name(clip.file.path, report.id),
        _seconds(clip.duration_ms),
        frames,
        f"{clip.width}×{clip.height}",
        format_size(clip.file.size),
    ]
    if clip.origin == "replay":
        facts.append("from the instant replay")
    if clip.monitor is not None and clip.monitor.name:
        facts.append(f"screen {clip.monitor.name}")
    if clip.capture_notes:
        facts.append(clip.capture_notes)
    if clip.redactions:
        count = len(clip.redactions)
        facts.append(f"{count} redaction {'box' if count == 1 else 'boxes'} blacked out in every frame")
    return ", ".join(facts)


def _step_facts(step: Step, report: Report) -> str:
    facts = [attachment_name(step.image.path, report.id), f"{step.width}×{step.height}", format_size(step.image.size)]
    if step.downscale < 1.0:
        facts.append(f"scaled to {step.downscale * 100:.0f} % to fit")
    if step.monitor is not None and step.monitor.name:
        facts.append(f"screen {step.monitor.name}")
    if step.capture_notes:
        facts.append(step.capture_notes)
    if step.original is not None:
        facts.append(f"without mark-up: {attachment_name(step.original.path, report.id)}")
    if step.markup:
        facts.append(f"{len(step.markup)} mark-up items")
    return ", ".join(facts)


def _facts(report: Report) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    reporter = _reporter_line(report)
    if reporter:
        facts.append(("Reported by", reporter))
    facts.append(("From", _source_line(report)))
    if report.category:
        facts.append(("Category", report.category))
    facts.append(("Created", _minute(report.created_at)))
    if report.self_help_articles:
        facts.append(("Self-help shown", "; ".join(report.self_help_articles)))
    return facts


def render(
    bundle: ReportBundle,
    *,
    notes: Sequence[str] = (),
    inline_images: Mapping[str, str] | None = None,
) -> TicketBody:
    """The body of ``bundle``. ``inline_images`` maps step image paths to ``cid:`` URLs (e-mail)."""
    return TicketBody(bundle.report, notes, SystemFacts.of(bundle), inline_images or {})


def _text(report: Report, notes: Sequence[str], summary: str | None) -> str:
    lines: list[str] = []
    lines.append(report.description.strip() or "(no description given)")
    if report.steps:
        lines += ["", "Steps"]
        for number, step in enumerate(report.steps, start=1):
            caption = step.caption.strip() or "(no caption)"
            lines.append(f"  {number}. {caption}")
            lines.append(f"     [{_step_facts(step, report)}]")
    if report.clips:
        lines += ["", "Clips"]
        for number, clip in enumerate(report.clips, start=1):
            caption = clip.caption.strip() or "(no caption)"
            lines.append(f"  {number}. {caption}")
            lines.append(f"     [{_clip_facts(clip, report)}]")
    if report.attachments:
        lines += ["", "Attached files"]
        for attachment in report.attachments:
            name = attachment_name(attachment.file.path, report.id)
            lines.append(f"  {name}: {attachment.display_name} ({format_size(attachment.file.size)})")
    lines.append("")
    facts = _facts(report)
    width = max(len(label) for label, _ in facts)
    lines += [f"{label + ':':<{width + 1}} {value}" for label, value in facts]
    if notes:
        lines += ["", "Changed to fit this ticket system"]
        lines += [f"  - {note}" for note in notes]
    if summary:
        lines += ["", summary]
    lines += ["", marker_line(report)]
    return "\n".join(lines) + "\n"


def _html(report: Report, notes: Sequence[str], summary: str | None, inline: Mapping[str, str]) -> str:
    e = html.escape
    parts: list[str] = ["<div>"]
    description = report.description.strip() or "(no description given)"
    parts.append("<p>" + "<br>\n".join(e(line) for line in description.splitlines()) + "</p>")
    if report.steps:
        parts.append("<h3>Steps</h3>\n<ol>")
        for step in report.steps:
            caption = step.caption.strip() or "(no caption)"
            facts = e(_step_facts(step, report))
            parts.append(f"<li><p><strong>{e(caption)}</strong><br><small>{facts}</small></p>")
            source = inline.get(step.image.path)
            if source:
                parts.append(
                    f'<p><img src="{e(source)}" alt="{e(caption)}" width="{step.width}" '
                    f'style="max-width:100%;height:auto"></p>'
                )
            parts.append("</li>")
        parts.append("</ol>")
    if report.clips:
        parts.append("<h3>Clips</h3>\n<ol>")
        for clip in report.clips:
            caption = clip.caption.strip() or "(no caption)"
            facts = e(_clip_facts(clip, report))
            parts.append(f"<li><p><strong>{e(caption)}</strong><br><small>{facts}</small></p></li>")
        parts.append("</ol>")
    if report.attachments:
        parts.append("<h3>Attached files</h3>\n<ul>")
        for attachment in report.attachments:
            name = attachment_name(attachment.file.path, report.id)
            parts.append(
                f"<li>{e(name)}: {e(attachment.display_name)} ({e(format_size(attachment.file.size))})</li>"
            )
        parts.append("</ul>")
    parts.append("<table>")
    for label, value in _facts(report):
        parts.append(f"<tr><th align=\"left\">{e(label)}</th><td>{e(value)}</td></tr>")
    parts.append("</table>")
    if notes:
        parts.append("<h3>Changed to fit this ticket system</h3>\n<ul>")
        parts += [f"<li>{e(note)}</li>" for note in notes]
        parts.append("</ul>")
    if summary:
        parts.append(f"<pre>{e(summary)}</pre>")
    parts.append(f"<p><small>{e(marker_line(report))}</small></p>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


__all__ = ["REPORT_MARKER", "SystemFacts", "TicketBody", "clip_attachment_name", "marker_line", "render"]
