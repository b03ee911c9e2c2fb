"""The folder connector: report bundles written into a directory (a share, a USB stick).

For sites with no network path to a ticket system. Each report becomes
``<report id>.showdesk`` (the bundle, byte for byte what the outbox holds; ``showdesk
import`` reads it) and, unless ``summary = false``, ``<report id>.txt`` (the readable ticket
body for people without ShowDesk). Files are written to a temporary name, flushed and
renamed, so a reader of the share never sees half a report. A report already there is not
written again: the report id is the file name, so replays are harmless.

Failures keep the report in the outbox: a missing directory (a stick not plugged in, a share
not mounted) is retried with backoff; a directory that refuses writing (read-only, no
permission) pauses the backend until a person fixes it; a full disk is retried.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit

from agent.bundle import BUNDLE_SUFFIX, BundleError, ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    Capability,
    Connector,
    PermanentError,
    ProgressCallback,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TransientError,
)
from agent.connectors.body import render
from agent.connectors.common import NeedsAttentionError, Options
from agent.fsutil import atomic_write_bytes, is_storage_full
from agent.schema import MANIFEST_PATH, Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

SUMMARY_SUFFIX: Final = ".txt"
FILE_MODE: Final = 0o644  # the help desk reading the share is another user
_REFUSED: Final = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class FolderConnector(Connector):
    """Writes reports into ``directory``; reads back the ones there."""

    capabilities = frozenset({Capability.SUBMIT, Capability.READ, Capability.IDEMPOTENT})

    def __init__(self, directory: Path, *, create_directory: bool = False, summary: bool = True) -> None:
        self.directory = Path(directory).expanduser()
        self.create_directory = create_directory
        self.summary = summary

    @property
    def system(self) -> str:
        return f"folder {self.directory}"

    def bundle_path(self, report_id: uuid.UUID | str) -> Path:
        return self.directory / f"{report_id}{BUNDLE_SUFFIX}"

    def _ticket(self, report_id: uuid.UUID, path: Path) -> Ticket:
        return Ticket(id=str(report_id), number=path.name, status="new", url=path.as_uri(), report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        report = bundle.report
        target = self.bundle_path(report.id)
        if self._holds(target, report.id):
            return self._ticket(report.id, target)
        data = bundle.to_bytes()
        if progress is not None:
            progress(0, len(data))
        try:
            if self.create_directory:
                self.directory.mkdir(parents=True, exist_ok=True)
            elif not self.directory.is_dir():
                raise TransientError(
                    f"{self.directory} does not exist (a share not mounted, a stick not plugged in?); "
                    "the report waits in the outbox",
                    system=self.system,
                )
            if self.summary:
                text = render(bundle).text.encode("utf-8")
                atomic_write_bytes(target.with_suffix(SUMMARY_SUFFIX), text, mode=FILE_MODE)
            atomic_write_bytes(target, data, mode=FILE_MODE)  # last: its presence means "complete"
        except OSError as exc:
            raise self._error(exc) from exc
        if progress is not None:
            progress(len(data), len(data))
        return self._ticket(report.id, target)

    def _holds(self, target: Path, report_id: uuid.UUID) -> bool:
        """Whether ``target`` already is this report (a replay); a damaged file there is replaced."""
        try:
            return ReportBundle.read(target).report.id == report_id
        except BundleError:
            return False

    def _error(self, exc: OSError) -> TransientError | NeedsAttentionError:
        reason = exc.strerror or str(exc)
        if exc.errno in _REFUSED:
            return NeedsAttentionError(
                f"cannot write to {self.directory}: {reason}; make it writable for this user "
                "(the report waits in the outbox)",
                system=self.system,
            )
        if is_storage_full(exc):
            return TransientError(f"{self.directory} is full: {reason}; the report waits in the outbox",
                                  system=self.system)
        return TransientError(f"cannot write to {self.directory}: {reason}", system=self.system)

    # ------------------------------------------------------------ read side
    def _bundles(self) -> list[Path]:
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            raise self._error(exc) from exc
        found = []
        for entry in entries:
            if entry.name.endswith(BUNDLE_SUFFIX) and not entry.name.startswith("."):
                try:
                    found.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
                except OSError:
                    continue
        return [path for _mtime, _name, path in sorted(found, reverse=True)]

    def _read(self, ticket_id: str) -> ReportBundle:
        try:
            path = self.bundle_path(uuid.UUID(ticket_id))  # a UUID, so never a path of its own
        except ValueError:
            raise PermanentError(f"{ticket_id!r} is not a report id", system=self.system, status=404) from None
        if not path.exists():
            raise PermanentError(f"{self.system} has no report {ticket_id}", system=self.system, status=404)
        try:
            return ReportBundle.read(path)
        except BundleError as exc:
            raise PermanentError(f"{path} cannot be read: {exc}", system=self.system) from exc

    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        status = self._status_only(status, filters)
        if status not in (None, "new"):
            return TicketPage(tickets=[])
        paths = self._bundles()
        start = int(cursor) if cursor and cursor.isdigit() else 0
        page = paths[start : start + max(1, limit)]
        tickets = []
        for path in page:
            try:
                report = ReportBundle.read(path).report
            except BundleError:
                continue  # something else left in the folder; not a report
            tickets.append(self._ticket(report.id, path))
        following = start + len(page)
        return TicketPage(tickets=tickets, next_cursor=str(following) if following < len(paths) else None)

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        bundle = self._read(ticket_id)
        path = self.bundle_path(bundle.report.id)
        return TicketDetail(
            ticket=self._ticket(bundle.report.id, path),
            report=bundle.report,
            raw={"path": str(path), "size": path.stat().st_size},
        )

    def attachment(self, ticket_id: str, path: str) -> bytes:
        bundle = self._read(ticket_id)
        if path == MANIFEST_PATH:
            return bundle.manifest_json()
        try:
            return bundle.files[path]
        except KeyError:
            raise PermanentError(f"report {ticket_id} has no file {path}", system=self.system, status=404) from None


def create(backend: BackendConfig, *, role: str = "submitter") -> FolderConnector:
    """The registry's entry point: ``path = "/mnt/helpdesk"`` or ``url = "file:///mnt/helpdesk"``."""
    options = Options(backend)
    directory = options.text("path")
    if directory is None and backend.url:
        parts = urlsplit(backend.url)
        if parts.scheme != "file":
            raise ConfigError(f"{options.where} url must be a file:// address (or use path = \"…\")")
        directory = unquote(parts.path)
    if not directory:
        raise ConfigError(f"{options.where} needs path = \"/mnt/helpdesk\" (the folder reports go to)")
    return FolderConnector(
        Path(directory), create_directory=options.flag("create", False), summary=options.flag("summary", True)
    )


__all__ = ["FolderConnector", "create"]
