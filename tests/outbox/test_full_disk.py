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
