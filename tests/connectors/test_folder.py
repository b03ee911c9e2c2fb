"""The folder connector on real directories, including ones that refuse writing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.bundle import ReportBundle
from agent.config import BackendConfig, ConfigError
from agent.connectors.base import PermanentError, TransientError
from agent.connectors.common import NeedsAttentionError
from agent.connectors.folder import FolderConnector, create
from agent.outbox import EntryState, Outbox
from agent.schema import MANIFEST_PATH
from tests.connectors.helpers import report_bundle


@dataclass
class Mount:
    path: Path
    make_writable: Callable[[], None]


def _mount_tmpfs(path: Path, options: str) -> None:
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Mount]:
    """A directory that really refuses writing: mode 0555 for a normal user, a read-only mount for root
    (root writes through file modes)."""
    target = tmp_path / "share"
    target.mkdir()
    if os.geteuid() != 0:
        target.chmod(0o555)
        yield Mount(target, lambda: target.chmod(0o755))
        target.chmod(0o755)
        return
    _mount_tmpfs(target, "ro,size=4m")
    try:
        yield Mount(target, lambda: _remount_writable(target))
    finally:
        subprocess.run(["umount", str(target)], check=False)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a full file system needs a tmpfs mount, which needs root")
    target = tmp_path / "stick"
    target.mkdir()
    _mount_tmpfs(target, "size=64k")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_report_is_written_whole_with_a_readable_summary(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    bundle = report_bundle(steps=2)
    connector = FolderConnector(folder)

    ticket = connector.submit(bundle)

    path = folder / f"{bundle.report.id}.showdesk"
    assert path.read_bytes() == bundle.to_bytes()
    assert ReportBundle.read(path).report == bundle.report
    assert path.stat().st_mode & 0o777 == 0o644
    summary = (folder / f"{bundle.report.id}.txt").read_text(encoding="utf-8")
    assert bundle.report.steps[1].caption in summary and "[critical] Disk / is 99 % full" in summary
    assert (ticket.id, ticket.number, ticket.url) == (str(bundle.report.id), path.name, path.as_uri())
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, f"{bundle.report.id}.txt"])


def test_replay_writes_nothing_new_and_reads_back(tmp_path: Path) -> None:
    connector = FolderConnector(tmp_path)
    first, second = report_bundle(steps=1, seed=1), report_bundle(steps=1, seed=2)
    ticket = connector.submit(first)
    stamp = (tmp_path / f"{first.report.id}.showdesk").stat().st_mtime_ns
    connector.submit(second)

    assert connector.submit(first) == ticket
    assert (tmp_path / f"{first.report.id}.showdesk").stat().st_mtime_ns == stamp
    assert {t.id for t in connector.iter_tickets()} == {str(first.report.id), str(second.report.id)}
    detail = connector.get_ticket(ticket.id)
    assert detail.report == first.report
    for ref in first.report.files():
        assert connector.attachment(ticket.id, ref.path) == first.files[ref.path]
    assert connector.attachment(ticket.id, MANIFEST_PATH) == first.report.canonical_json()
    with pytest.raises(PermanentError, match="not a report id"):
        connector.get_ticket("../../etc/passwd")


def test_read_only_target_pauses_and_keeps_the_report(read_only_dir: Mount, tmp_path: Path) -> None:
    bundle = report_bundle(steps=1)
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: FolderConnector(read_only_dir.path))
    outbox.put(bundle, "stick")

    result = outbox.flush(force=True)

    assert [e.state for e in result.paused] == [EntryState.PAUSED]
    reason = result.paused[0].last_error or ""
    assert f"cannot write to {read_only_dir.path}" in reason
    assert "Read-only file system" in reason or "Permission denied" in reason
    assert outbox.bundle(str(bundle.report.id)).to_bytes() == bundle.to_bytes()
    assert list(read_only_dir.path.iterdir()) == []  # not even a temporary file

    read_only_dir.make_writable()
    delivered = outbox.flush(force=True).delivered
    assert [r.report_id for r in delivered] == [str(bundle.report.id)]
    assert ReportBundle.read(read_only_dir.path / f"{bundle.report.id}.showdesk").report == bundle.report


def test_missing_folder_is_retried_not_created(tmp_path: Path) -> None:
    absent = tmp_path / "usb-stick"
    with pytest.raises(TransientError, match="does not exist"):
        FolderConnector(absent).submit(report_bundle(steps=1))
    assert not absent.exists()
    FolderConnector(absent, create_directory=True).submit(report_bundle(steps=1))
    assert len(list(absent.glob("*.showdesk"))) == 1


def test_full_disk_is_retried_and_leaves_nothing_half_written(tiny_disk: Path) -> None:
    bundle = report_bundle(steps=3, size=(800, 600))
    assert len(bundle.to_bytes()) > 64 * 1024
    with pytest.raises(TransientError, match="is full"):
        FolderConnector(tiny_disk, summary=False).submit(bundle)
    assert list(tiny_disk.iterdir()) == []


def test_refusing_errors_are_classified() -> None:
    connector = FolderConnector(Path("/nowhere"))
    assert isinstance(connector._error(PermissionError(13, "Permission denied")), NeedsAttentionError)
    assert isinstance(connector._error(OSError(30, "Read-only file system")), NeedsAttentionError)
    assert type(connector._error(OSError(5, "Input/output error"))) is TransientError


def test_created_from_configuration(tmp_path: Path) -> None:
    by_path = create(BackendConfig(name="stick", type="folder", url="", options={"path": str(tmp_path)}))
    by_url = create(BackendConfig(name="stick", type="folder", url=tmp_path.as_uri(), options={"summary": False}))
    assert by_path.directory == by_url.directory == tmp_path
    assert by_path.summary and not by_url.summary
    with pytest.raises(ConfigError, match=r"\[backends.stick\] needs path"):
        create(BackendConfig(name="stick", type="folder", url=""))
    with pytest.raises(ConfigError, match="file://"):
        create(BackendConfig(name="stick", type="folder", url="https://example.org"))


def _remount_writable(target: Path) -> None:
    subprocess.run(["mount", "-o", "remount,rw", str(target)], check=True)
