"""A report as one self-contained web page, for people who send it by hand (mail, chat, a USB stick).

Everything is in the one file: the shots and clips as ``data:`` URIs, the captions with the step
recorder's lines, the description and the system information as text. The page loads nothing:
its Content-Security-Policy allows images from ``data:`` only and the one style sheet by its
digest, so no script runs, no font or image is fetched, and no form or link sends anything, even
if a caption was written to try. Every text of the report is escaped. Attachments (logs) are
named, not included: a page is for reading, the bundle is for the help desk. No Qt.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Final

from agent.bundle import ReportBundle
from agent.report_format import IMAGE_MEDIA_TYPES, sniff_image_type

HTML_SUFFIX: Final = ".html"

_STYLE: Final = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem;
       color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.facts dt { color: #57606a; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
ol.steps { list-style: none; padding: 0; }
ol.steps li { margin: 0 0 2rem; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { margin-top: .4rem; }
.number { font-weight: 600; margin-right: .4rem; }
.note { color: #57606a; font-size: .9rem; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: 1rem; overflow-wrap: anywhere; }
""".strip()


def content_security_policy(style: str = _STYLE) -> str:
    """No source at all by default; images from data: only; the one style sheet by its sha256."""
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; img-src data:; "
        f"style-src 'sha256-{digest}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def export_report_html(bundle: ReportBundle) -> str:
    """The page for a loaded (validated) bundle. Large: every image is in it, a third bigger in base64."""
    report = bundle.report
    title = f"{report.subject()} — ShowDesk report"
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(content_security_policy())}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(report.subject())}</h1>",
        _facts(bundle),
    ]
    if report.description.strip():
        parts += ["<h2>What went wrong</h2>", f'<p class="text">{_e(report.description)}</p>']
    if report.steps:
        parts += ["<h2>Steps</h2>", '<ol class="steps">', *_steps(bundle), "</ol>"]
    if report.clips:
        parts += ["<h2>Recordings</h2>", '<ol class="steps">', *_clips(bundle), "</ol>"]
    if report.attachments:
        parts += ["<h2>Attached files (in the report bundle, not in this page)</h2>", "<ul>"]
        parts += [f"<li>{_e(a.display_name)} ({_size(a.file.size)})</li>" for a in report.attachments]
        parts.append("</ul>")
    snapshot = bundle.sysinfo
    if snapshot is not None:
        from agent.sysinfo.text import format_text

        parts += ["<h2>System information</h2>", f"<pre>{_e(format_text(snapshot))}</pre>"]
    parts += [
        f'<p class="note">ShowDesk report {_e(str(report.id))}, made {_e(_when(report.created_at))}.</p>',
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def export_bundle_file(bundle_path: Path, output: Path) -> None:
    """Read the bundle at ``bundle_path`` (``BundleError`` when it is not one) and write its page atomically."""
    from agent.fsutil import atomic_write_bytes

    page = export_report_html(ReportBundle.read(bundle_path))
    atomic_write_bytes(output, page.encode("utf-8"))


def _facts(bundle: ReportBundle) -> str:
    report = bundle.report
    rows = [("Reported", _when(report.created_at))]
    if report.category:
        rows.append(("Category", report.category))
    who = " ".join(part for part in (report.reporter.name or "", _angle(report.reporter.email)) if part)
    if who:
        rows.append(("From", who))
    rows.append(("Sent from", f"{report.source.kind} {report.source.id}"))
    shots = f"{len(report.steps)} step{'' if len(report.steps) == 1 else 's'}"
    rows.append(("Contents", shots + (f", {len(report.clips)} recording(s)" if report.clips else "")))
    body = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in rows)
    return f'<dl class="facts">{body}</dl>'


def _steps(bundle: ReportBundle) -> Iterable[str]:
    for number, step in enumerate(bundle.report.steps, start=1):
        data = bundle.files[step.image.path]
        image = _image(data, f"Step {number}", step.width, step.height)
        caption = f'<span class="number">{number}.</span><span class="text">{_e(step.caption)}</span>'
        notes = f'<div class="note">{_e(step.capture_notes)}</div>' if step.capture_notes else ""
        yield f"<li><figure>{image}<figcaption>{caption}{notes}</figcaption></figure></li>"


def _clips(bundle: ReportBundle) -> Iterable[str]:
    for number, clip in enumerate(bundle.report.clips, start=1):
        data = bundle.files[clip.file.path]
        image = _image(data, f"Recording {number}", clip.width, clip.height)
        length = f"{clip.duration_ms / 1000:.1f} s, {clip.frames} frames"
        caption = f'<span class="number">{number}.</span><span class="text">{_e(clip.caption)}</span>'
        yield f'<li><figure>{image}<figcaption>{caption}<div class="note">{_e(length)}</div></figcaption></figure></li>'


def _image(data: bytes, alt: str, width: int, height: int) -> str:
    # The type comes from the bytes, never from the manifest: a data: URI says what it holds.
    media_type = sniff_image_type(data)
    if media_type not in IMAGE_MEDIA_TYPES:
        return f'<p class="note">{_e(alt)}: not an image this page can show.</p>'
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<img src="data:{media_type};base64,{encoded}" alt="{_e(alt)}" '
        f'width="{int(width)}" height="{int(height)}" loading="eager">'
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _angle(email: str | None) -> str:
    return f"<{email}>" if email else ""


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} bytes"
