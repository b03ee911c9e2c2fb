"""A nearly full file system under the outbox: a clear error, nothing partial, the rest still delivered."""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import Outbox, OutboxFullError
from tests.core.test_cli import showdesk
from tests.outbox.helpers import leftovers, make_bundle
from tests.outbox.test_end_to_end import submitter, tickets_for

TMPFS_SIZE = "512k"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine; cannot make a small file system")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {TMPFS_SIZE} tmpfs (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


def test_a_full_disk_refuses_the_new_report_cleanly_and_delivers_the_earlier_ones(
    shared_server: Any, small_disk: Path
) -> None:
    server = shared_server
    outbox = Outbox(small_disk / "outbox", connector_for=lambda _n: submitter(server))
    rng = random.Random(7)
    queued: list[str] = []
    with pytest.raises(OutboxFullError) as caught:
        for n in range(200):
            bundle = make_bundle(300 + n, attachment=rng.randbytes(24 * 1024))
            outbox.put(bundle)
            queued.append(str(bundle.report.id))

    error = caught.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert "full" in str(error) and str(small_disk / "outbox") in str(error)
    assert len(queued) >= 5, "the disk filled before a handful of reports: the test proves little"
    assert leftovers(small_disk) == []
    assert sorted(e.id for e in outbox.list()) == sorted(queued)
    assert sorted(p.name for p in (small_disk / "outbox" / "entries").iterdir()) == sorted(queued)
    free = os.statvfs(small_disk)
    assert free.f_bavail * free.f_frsize < 64 * 1024  # it really is (nearly) full

    result = outbox.flush()
    outbox.close()
    assert sorted(r.report_id for r in result.delivered) == sorted(queued) and result.remaining == 0
    assert sorted(tickets_for(server, set(queued))) == sorted(queued)
    # Delivery freed the space: the outbox takes reports again.
    assert outbox.put(make_bundle(999)).size > 0


def _fill(directory: Path) -> None:
    """Write one file until the file system says it is full (bounded by the tmpfs's size)."""
    chunk = b"\0" * 16 * 1024
    with (directory / "filler").open("wb", buffering=0) as filler:
        for _ in range(10_000):
            try:
                filler.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return
    raise AssertionError("the small disk never filled")


def test_submit_to_a_full_outbox_disk_exits_8_with_the_reason(small_disk: Path, tmp_path: Path) -> None:
    bundle_path = tmp_path / "report.showdesk"
    make_bundle(5, attachment=random.Random(5).randbytes(32 * 1024)).write(bundle_path)
    outbox_dir = small_disk / "outbox"
    outbox_dir.mkdir()
    _fill(small_disk)
    env = {"SHOWDESK_OUTBOX": str(outbox_dir), "SHOWDESK_URL": "http://127.0.0.1:9"}

    result = showdesk("submit", str(bundle_path), "--wait", "0", env=env)

    assert result.returncode == 8, result.stderr
    assert "the report could not be kept" in result.stderr and "full" in result.stderr
    assert str(outbox_dir) in result.stderr and "Traceback" not in result.stderr
    assert leftovers(small_disk) == [] and Outbox(outbox_dir).list() == []
    # With space again, the very same command queues it (the backend is not there: exit 3).
    (small_disk / "filler").unlink()
    assert showdesk("submit", str(bundle_path), "--wait", "0", env=env).returncode == 3
    assert len(Outbox(outbox_dir).list()) == 1


def test_submit_to_an_outbox_that_is_not_writable_exits_8(tmp_path: Path) -> None:
    bundle_path = tmp_path / "report.showdesk"
    make_bundle(6).write(bundle_path)
    # A file where the outbox's directory should be: no user, root included, can make it a directory.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    env = {"SHOWDESK_OUTBOX": str(blocked / "outbox"), "SHOWDESK_URL": "http://127.0.0.1:9"}

    result = showdesk("submit", str(bundle_path), "--wait", "0", env=env)

    assert result.returncode == 8, result.stderr
    assert "could not be kept" in result.stderr and "Traceback" not in result.stderr
