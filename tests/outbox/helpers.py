"""Shared pieces of the outbox tests: tiny real reports, a settable clock, a scripted connector."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from PIL import Image

from agent.bundle import AttachmentDraft, ReportBundle, StepDraft, build_bundle
from agent.connectors.base import Capability, Connector, ProgressCallback
from agent.schema import Report, Source, Ticket


def tiny_png(seed: int, size: tuple[int, int] = (4, 3)) -> bytes:
    """A small PNG whose pixels depend on ``seed``, so every report's files differ."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_bundle(
    seed: int = 0,
    *,
    report_id: uuid.UUID | None = None,
    description: str | None = None,
    steps: int = 1,
    attachment: bytes | None = None,
    image_size: tuple[int, int] = (4, 3),
    walk_up_site: str | None = None,
) -> ReportBundle:
    base = Report(
        id=report_id or uuid.uuid4(),
        category="Printer",
        description=description if description is not None else f"report number {seed}",
        source=Source(kind="kiosk" if walk_up_site else "agent", id="test-host", site=walk_up_site),
        walk_up=walk_up_site is not None,
    )
    drafts = [
        StepDraft(
            image=tiny_png(seed * 100 + n, image_size),
            width=image_size[0],
            height=image_size[1],
            captured_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
            caption=f"step {n}",
        )
        for n in range(steps)
    ]
    attachments = [AttachmentDraft(attachment, "log.txt", "text/plain")] if attachment is not None else []
    return build_bundle(base, drafts, attachments, sysinfo={"os": "test", "seed": seed})


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Outcome = Ticket | Exception | Callable[[ReportBundle], Ticket]


class ScriptedConnector(Connector):
    """Answers each submit with the next scripted outcome; after the script, makes a ticket.

    An in-process stand-in for the outbox's logic tests; the real server is exercised in
    test_end_to_end.py.
    """

    capabilities = frozenset({Capability.SUBMIT, Capability.PROGRESS})

    def __init__(self, outcomes: list[Outcome] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.submitted: list[uuid.UUID] = []
        self.closed = False

    @property
    def system(self) -> str:
        return "scripted test backend"

    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        self.submitted.append(bundle.report.id)
        if progress is not None:
            progress(0, bundle.total_bytes())
            progress(bundle.total_bytes(), bundle.total_bytes())
        if self.outcomes:
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            if callable(outcome):
                return outcome(bundle)
            return outcome
        number = len(self.submitted)
        return Ticket(id=str(number), number=f"T-{number}", url=f"http://tickets/{number}", report_id=bundle.report.id)

    def close(self) -> None:
        self.closed = True


def leftovers(directory: object) -> list[str]:
    """Names of temporary or half-written files anywhere under ``directory``."""
    from pathlib import Path

    root = Path(str(directory))
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith(".tmp") or p.name.startswith(".incoming-")
    )

