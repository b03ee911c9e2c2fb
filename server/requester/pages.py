"""The requester's page as HTML: what the store holds, turned into what the person reads.

Rendering runs in the thread pool (it reads the database). The page is made of parts that
the live stream sends again when they change (status, queue, messages, the after-resolve
forms); each part carries a short digest so the page's script replaces only what changed
and never a form the person is typing in for nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from agent.schema import IMAGE_MEDIA_TYPES, MAX_DESCRIPTION_CHARS, MAX_FILE_BYTES
from server.api.context import SUPPORTED_LANGUAGES, AppContext, preferred_language
from server.api.photos import MAX_ANSWER_PHOTOS
from server.blobs import BlobStore
from server.requester.security import make_form_token, shown_text
from server.requester.texts import DEFAULT_LANGUAGE, texts
from server.store import REQUESTER_ACTOR, EventRow, FileRow, NotFoundError, TicketRow, event_files

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
LIVE_PARTS: Final = ("status", "queue", "timeline", "after")
# Kinds of public events the page tells the person about; anything else is left out.
_SHOWN_KINDS: Final = frozenset({"created", "reply", "answer", "status", "assigned", "solved", "rating"})


@dataclass
class PageInput:
    """What one rendering of the page needs beyond the ticket."""

    language: str
    notice: str = ""
    error: str = ""
    answer_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def choose_language(query: str | None, ticket: TicketRow | None, accept_language: str) -> str:
    """?lang= first (the link carries it), then the language the person reported in, then the browser's."""
    if query in SUPPORTED_LANGUAGES:
        return str(query)
    if ticket is not None and ticket.language in SUPPORTED_LANGUAGES:
        return str(ticket.language)
    return preferred_language(accept_language) or DEFAULT_LANGUAGE


def make_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: nothing here is trusted text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["shown"] = shown_text
    return environment


class Pages:
    """Renders the page, its live parts and the error pages."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.environment = make_environment()

    # ------------------------------------------------------------ whole pages
    def page(self, ticket_id: str, secret: str, given: PageInput) -> str:
        values = self._values(ticket_id, secret, given.language)
        values.update(notice=given.notice, error=given.error, answer_text=given.answer_text, **given.extra)
        return self.environment.get_template("page.html").render(values)

    def not_found(self, language: str) -> str:
        return self.environment.get_template("not_found.html").render(t=texts(language), lang=language)

    def mail_stop(self, language: str, number: str, secret: str, *, stopped: bool) -> str:
        """The page under the link that stops mails for the ticket: a question and a button, or done."""
        return self.environment.get_template("mail_stop.html").render(
            t=texts(language),
            lang=language,
            number=number,
            stopped=stopped,
            form_token=make_form_token(secret),
            back=f"../{secret}?lang={language}",  # relative to /t/{secret}/mail-stop
        )

    def too_many(self, language: str, seconds: int) -> str:
        t = texts(language)
        return self.environment.get_template("too_many.html").render(
            t=t, lang=language, message=t["error.busy"].format(seconds=seconds)
        )

    # ------------------------------------------------------------ live parts
    def live_parts(self, ticket_id: str, secret: str, language: str) -> dict[str, Any]:
        """The parts the stream sends: ``{part: html}`` plus ``versions``."""
        values = self._values(ticket_id, secret, language)
        parts = {name: values["parts"][name] for name in LIVE_PARTS}
        return {**parts, "versions": values["versions"]}

    # ------------------------------------------------------------ the model
    def _values(self, ticket_id: str, secret: str, language: str) -> dict[str, Any]:
        context = self.context
        ticket, files, events = context.store.ticket_detail(ticket_id, include_internal=False)
        t = texts(language)
        base = secret  # relative to /t/{secret}: the page works behind any path prefix
        query = f"?lang={language}"
        report = json.loads(ticket.manifest)
        by_path = {f.path: f for f in files}
        by_id = {f.id: f for f in files}

        def shown_src(file_id: int) -> str:
            # The thumbnail when the child has made it; else the full image, and the thumbnail is asked for.
            file = by_id[file_id]
            return f"{base}/{self._preview(file)}/{file_id}"

        shots = []
        for index, step in enumerate(report.get("steps", []), start=1):
            image = by_path.get(step.get("image", {}).get("path", ""))
            if image is None or image.media_type not in IMAGE_MEDIA_TYPES:
                continue
            shots.append(
                {
                    "url": f"{base}/files/{image.id}",
                    "src": shown_src(image.id),
                    "width": int(step.get("width", 0)) or None,
                    "height": int(step.get("height", 0)) or None,
                    "caption": step.get("caption", ""),
                    "alt": t["screenshot"].format(index=index),
                }
            )
        clips = _clips(report, by_path, base, t)
        timeline = _timeline(events, files, base, t, shown_src)
        # The status card quotes the help desk's latest reply while it matters most: when the
        # desk waits for the person, or says it is resolved. The whole exchange is further down.
        replies = [item for item in timeline if item["kind"] == "reply"]
        latest_reply = replies[-1] if replies and ticket.status in ("waiting", "resolved") else None
        values: dict[str, Any] = {
            "t": t,
            "lang": language,
            "languages": [(code, texts(code)["language_name"]) for code in SUPPORTED_LANGUAGES],
            "number": ticket.number,
            "status": ticket.status,
            "status_text": t[f"status.{ticket.status}"],
            "reported_at": _moment(report.get("created_at")),
            "description": ticket.description,
            "shots": shots,
            "clips": clips,
            "queue": self._queue(ticket, t),
            "timeline": timeline,
            "latest_reply": latest_reply,
            "after": self._after(ticket, events, secret),
            "answer_token": make_form_token(secret),
            "urls": {
                "page": f"{base}{query}",
                "events": f"{base}/events{query}",
                "answer": f"{base}/answer{query}",
                "feedback": f"{base}/feedback{query}",
                "rating": f"{base}/rating{query}",
                "static": "../static",
            },
            "max_photos": MAX_ANSWER_PHOTOS,
            "max_photo_mb": MAX_FILE_BYTES // (1024 * 1024),
            "max_text": MAX_DESCRIPTION_CHARS,
        }
        parts = {name: self.environment.get_template(f"_{name}.html").render(values) for name in LIVE_PARTS}
        # Rendered by the autoescaping templates above: already safe HTML.
        values["parts"] = {name: Markup(html) for name, html in parts.items()}  # noqa: S704
        values["versions"] = {
            name: hashlib.sha256(_stable(html).encode()).hexdigest()[:16] for name, html in parts.items()
        }
        return values

    def _preview(self, file: FileRow) -> str:
        """``thumbs`` when the file's thumbnail exists, else ``files`` (and the thumbnail is asked for)."""
        thumbnails = self.context.thumbnails
        if thumbnails.existing(file.sha256) is not None:
            return "thumbs"
        blobs = self.context.blobs
        # The thumbnailer reads a local file; files in an object store get none (the page shows the
        # image itself) rather than a second, local copy of what the site chose to keep off this disk.
        if isinstance(blobs, BlobStore):
            thumbnails.want(file.sha256, blobs.path_for(file.sha256))
        return "files"

    def _queue(self, ticket: TicketRow, t: dict[str, str]) -> dict[str, Any] | None:
        if not (ticket.walk_up and ticket.site):
            return None
        with contextlib.suppress(NotFoundError):
            place = self.context.store.queue_place(ticket.id)
            minutes = math.ceil(place.estimated_wait_seconds / 60)
            return {
                "state": place.state,
                "position": t["queue.waiting"].format(position=place.position),
                "ahead": t["queue.ahead"].format(ahead=place.ahead) if place.ahead else t["queue.ahead_none"],
                "wait": t["queue.wait"].format(minutes=minutes) if minutes >= 1 else t["queue.wait_short"],
            }
        return None

    def _after(self, ticket: TicketRow, events: list[EventRow], secret: str) -> dict[str, Any]:
        """The forms after a resolve: solved or still broken (until answered), and the rating."""
        resolved = ticket.status in ("resolved", "closed")
        last_resolve = max((e.seq for e in events if e.kind == "status" and e.data.get("to") == "resolved"), default=0)
        answered = any(e.kind == "solved" and e.seq > last_resolve for e in events)
        rating = next((e.data.get("score") for e in reversed(events) if e.kind == "rating"), None)
        return {
            "ask_solved": ticket.status == "resolved" and not answered,
            "ask_rating": resolved,
            "rating": rating if isinstance(rating, int) else None,
            "feedback_token": make_form_token(secret),
            "rating_token": make_form_token(secret),
        }


def _clips(report: dict[str, Any], by_path: dict[str, FileRow], base: str, t: dict[str, str]) -> list[dict[str, Any]]:
    """The report's clips (animated WebP) as the page plays them: the file itself, through the same
    capability route as the screenshots; no thumbnail, which would be a still."""
    clips = []
    for index, clip in enumerate(report.get("clips", []), start=1):
        file = by_path.get(clip.get("file", {}).get("path", ""))
        if file is None or file.media_type not in IMAGE_MEDIA_TYPES:
            continue
        frames = int(clip.get("frames", 0))
        seconds = int(clip.get("duration_ms", 0)) / 1000
        clips.append(
            {
                "url": f"{base}/files/{file.id}",
                "width": int(clip.get("width", 0)) or None,
                "height": int(clip.get("height", 0)) or None,
                "frames": frames,
                "caption": clip.get("caption", ""),
                "alt": t["clip"].format(index=index),
                "facts": t["clip.facts"].format(seconds=f"{seconds:.1f}", frames=frames),
            }
        )
    return clips


def _timeline(
    events: list[EventRow], files: list[FileRow], base: str, t: dict[str, str], shown_src: Callable[[int], str]
) -> list[dict[str, Any]]:
    """Public events as the person reads them; internal notes never reach this (the store leaves them out)."""
    ids = {f.id for f in files}
    items: list[dict[str, Any]] = []
    for event in events:
        if event.internal or event.kind not in _SHOWN_KINDS:
            continue
        item: dict[str, Any] = {"kind": event.kind, "at": _moment(event.at), "text": None, "line": None, "photos": []}
        if event.kind == "reply":
            item.update(who=t["who.helpdesk"], side="helpdesk", text=str(event.data.get("text", "")))
        elif event.kind == "answer":
            photos = [
                {
                    "url": f"{base}/files/{f['id']}",
                    "src": shown_src(f["id"]),
                    "width": f.get("width"),
                    "height": f.get("height"),
                }
                for f in event_files(event)
                if f.get("id") in ids
            ]
            item.update(who=t["who.you"], side="you", text=str(event.data.get("text", "")), photos=photos)
        elif event.kind == "created":
            item.update(who=None, side="system", line=t["event.created"])
        elif event.kind == "assigned":
            if not event.data.get("to"):
                continue
            item.update(who=None, side="system", line=t["event.assigned"])
        elif event.kind == "status":
            if event.actor == REQUESTER_ACTOR:
                continue  # the person's own answer moved it; their message says so already
            to = str(event.data.get("to", ""))
            item.update(who=None, side="system", line=t["event.status"].format(status=t.get(f"state.{to}", to)))
        elif event.kind == "solved":
            item.update(
                who=t["who.you"],
                side="you",
                line=t["event.solved_yes" if event.data.get("solved") else "event.solved_no"],
            )
        elif event.kind == "rating":
            comment = str(event.data.get("comment", ""))
            item.update(
                who=t["who.you"],
                side="you",
                line=t["event.rating"].format(score=int(event.data.get("score", 0))),
                text=comment or None,
            )
        items.append(item)
    return items


def _moment(value: object) -> dict[str, str] | None:
    """A moment for <time>: ISO for the script (which shows it in the person's time zone), UTC text without it."""
    moment: datetime | None = None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value).astimezone(UTC)
    if moment is None:
        return None
    return {"iso": moment.isoformat(timespec="seconds"), "text": moment.strftime("%Y-%m-%d %H:%M UTC")}


def _stable(html: str) -> str:
    """A part's content without its one-time form tokens, which change on every rendering."""
    return "\n".join(line for line in html.splitlines() if 'name="form"' not in line)
