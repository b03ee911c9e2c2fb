"""The outbox's notification hook: an observer that tells the targets once a backend confirmed a report.

The outbox removes a delivered report before its observers hear of it, so the facts a
notification needs (subject, category, site, walk-up, critical flags) are kept when the
report is first sent, in ``reports/<id>.json`` beside the notification queue,
and used (then removed) on delivery with the ticket's number and link.

Wiring, where an outbox is made (the laptop agent, the kiosk): ``attach_notifications(outbox, config)``,
which is ``outbox.add_observer(OutboxNotifier(notifier, outbox.bundle))`` with a started notifier
when ``[[notify]]`` targets are configured.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from agent.bundle import ReportBundle
from agent.flags import compute_flags
from agent.fsutil import atomic_write_bytes, make_private_dir
from agent.notify.events import FlagFact, ReportFacts, facts_from_report, report_events
from agent.notify.notifier import IMAGES_KEPT, Notifier
from agent.notify.slack_files import MAX_IMAGE_BYTES, MAX_IMAGES
from agent.outbox.entries import OutboxEntry, Receipt
from agent.outbox.errors import OutboxError
from agent.outbox.observers import OutboxObserver
from agent.report_format import SYSINFO_PATH

if TYPE_CHECKING:
    from agent.config import Config
    from agent.outbox import Outbox

log = logging.getLogger(__name__)

BundleReader = Callable[[str], ReportBundle]
STALE_FACTS_SECONDS: Final = 30 * 86400  # longer than any report waits in an outbox before it is delivered or purged


def flags_of(bundle: ReportBundle) -> list[FlagFact]:
    """The flags of the report's system information, most severe first; none when it has none or it is unreadable."""
    raw = bundle.files.get(SYSINFO_PATH)
    if raw is None:
        return []
    try:
        snapshot = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(snapshot, dict):
        return []
    return [FlagFact(code=f.code, severity=f.severity, message=f.message) for f in compute_flags(snapshot)]


def facts_of(bundle: ReportBundle) -> ReportFacts:
    return facts_from_report(bundle.report, flags_of(bundle))


_EXTENSIONS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg"}


def screenshots_of(bundle: ReportBundle) -> list[tuple[str, bytes]]:
    """The first ``MAX_IMAGES`` step pictures (as marked up) small enough to share, named step-N.EXT."""
    shots = []
    for number, step in enumerate(bundle.report.steps, start=1):
        data = bundle.files.get(step.image.path)
        if data is None or len(data) > MAX_IMAGE_BYTES:
            continue
        shots.append((f"step-{number}.{_EXTENSIONS.get(step.image.media_type, 'img')}", data))
        if len(shots) == MAX_IMAGES:
            break
    return shots


# The built-in server's ticket link is the person's own page, a capability: whoever holds it reads
# and answers the ticket as them. It never goes to a channel; the notification names the ticket.
_PERSON_LINK: Final = re.compile(r"/t/[A-Za-z0-9_-]{43}/?$")


def channel_link(url: str) -> str:
    """``url`` fit for a team's channel: "" for a link that grants the person's access to their ticket."""
    return "" if _PERSON_LINK.search(urlsplit(url).path) else url


class OutboxNotifier(OutboxObserver):
    """An ``OutboxObserver``: facts kept at a report's first ``sending``, notifications published at ``delivered``."""

    def __init__(self, notifier: Notifier, read_bundle: BundleReader, *, clock: Callable[[], float] | None = None):
        self._notifier = notifier
        self._read_bundle = read_bundle
        self._clock = clock
        self._dir = notifier.queue.directory / "reports"
        make_private_dir(self._dir)
        self._drop_stale_facts()

    # ------------------------------------------------------------ outbox hooks
    def sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        # Once per try, before the connector reports progress, on the sending thread: not at
        # ``queued``, which runs on whatever thread puts the report (a kiosk's screen).
        if sent == 0 and total == 0:
            self._remember(entry.id)

    def delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        facts = self._recall(entry)
        now = receipt.delivered_at if self._clock is None else self._clock()
        images_kept = self._images_kept(entry.id)
        link = channel_link(receipt.url)
        for event in report_events(facts, ticket_number=receipt.number, ticket_url=link, now=now):
            if images_kept and event.kind == "new_report":
                event = replace(event, extra={"images": IMAGES_KEPT})
            self._notifier.publish(event)
        self._forget(entry.id)
        if images_kept:
            self._notifier.tidy_images(entry.id)  # when no Slack target took them
        if self._notifier.running:
            self._notifier.wake()
        else:
            self._notifier.deliver_due()

    def dead(self, entry: OutboxEntry, reason: str) -> None:
        self._forget(entry.id)
        with contextlib.suppress(ValueError):
            shutil.rmtree(self._notifier.images_dir(entry.id), ignore_errors=True)

    # ------------------------------------------------------------ the kept facts
    def _path(self, report_id: str) -> Path | None:
        try:
            return self._dir / f"{uuid.UUID(report_id)}.json"  # a UUID: no path can be smuggled in
        except ValueError:
            return None

    def _remember(self, report_id: str) -> None:
        path = self._path(report_id)
        if path is None or path.exists():
            return
        try:
            bundle = self._read_bundle(report_id)
            if self._notifier.wants_images:
                # Written before the facts: the facts file is what says "this report was seen".
                for name, data in screenshots_of(bundle):
                    atomic_write_bytes(self._notifier.images_dir(report_id) / name, data)
            atomic_write_bytes(path, json.dumps(facts_of(bundle).to_dict()).encode("utf-8"))
        except (OSError, ValueError, LookupError, OutboxError) as exc:  # BundleError is a ValueError
            log.warning("facts of report %s for notifications not kept: %s", report_id, exc)

    def _images_kept(self, report_id: str) -> bool:
        try:
            directory = self._notifier.images_dir(report_id)
        except ValueError:
            return False
        return directory.is_dir() and any(directory.iterdir())

    def _recall(self, entry: OutboxEntry) -> ReportFacts:
        path = self._path(entry.id)
        if path is not None:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                return ReportFacts.from_dict(json.loads(path.read_bytes()))
        # Facts lost (a damaged file): the subject the outbox kept still makes a useful notification.
        return ReportFacts(report_id=entry.id, subject=entry.subject, category="", site="", source_kind="",
                           walk_up=False)

    def _drop_stale_facts(self) -> None:
        """Facts of reports purged from the outbox unsent are never recalled: drop them after a while."""
        cutoff = time.time() - STALE_FACTS_SECONDS
        for path in self._dir.glob("*.json"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    def _forget(self, report_id: str) -> None:
        path = self._path(report_id)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def attach_notifications(outbox: Outbox, config: Config) -> Notifier | None:
    """Tell the configured ``[[notify]]`` targets of every report ``outbox`` delivers.

    Returns the notifier, its thread started (stop it with ``stop()`` when the application
    quits), or None when no target is configured (nothing is hooked then).
    """
    notifier = Notifier.from_config(config)
    if not notifier.targets:
        return None
    notifier.start()
    outbox.add_observer(OutboxNotifier(notifier, outbox.bundle))
    return notifier
