"""Disks: which mount holds the home and the temp directory, a full home on a real small file system,
and the fallback when the mount table lacks the disks (a sandbox's /proc/mounts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent.flags import compute_flags
from agent.sysinfo import GROUPS, SysinfoOptions, collect
from agent.sysinfo import collectors as sysinfo_collectors

ONLY_DISKS = [name for name in GROUPS if name != "disks"]


def _mount_namespace_usable() -> str | None:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux mount namespaces (the unshare command)"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        return f"cannot make a mount namespace here (needs root or CAP_SYS_ADMIN): {probe.stderr.strip()}"
    return None


_WHY_NOT = _mount_namespace_usable()


@pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or "")
def test_a_full_home_on_its_own_small_file_system_is_named_as_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    child = tmp_path / "child.py"
    child.write_text(
        textwrap.dedent(
            """
            import json, os
            from pathlib import Path
            from agent.flags import compute_flags
            from agent.sysinfo import GROUPS, SysinfoOptions, collect

            with open(Path.home() / "filler", "wb") as filler:  # the person's files fill the disk
                try:
                    while True:
                        filler.write(b"x" * 65536)
                        filler.flush()
                except OSError:
                    pass
            snapshot = collect(SysinfoOptions(timeout=5.0, exclude=[g for g in GROUPS if g != "disks"]))
            print(json.dumps({"disks": snapshot["disks"], "flags": [f.to_dict() for f in compute_flags(snapshot)]}))
            """
        )
    )
    # The tmpfs exists only in the child's own mount namespace: nothing else sees it.
    script = f"mount -t tmpfs -o size=1m showdesk-test-home {home} && exec {sys.executable} {child}"
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    [disk] = [disk for disk in answer["disks"] if disk["mount"] == str(home)]
    assert disk["filesystem"] == "tmpfs" and disk["holds"] == ["home directory"]
    [flag] = [flag for flag in answer["flags"] if flag["code"] == "disk_full"]
    assert flag["severity"] == "critical"
    assert flag["message"].startswith(f"Disk {home} (holds the home directory) is 100 % full (")
    assert ["Holds", "home directory"] in flag["evidence"]
    assert ["File system", "tmpfs on showdesk-test-home"] in flag["evidence"]


def test_the_mount_holding_the_home_and_temp_directories_is_said() -> None:
    disks: Any = collect(SysinfoOptions(timeout=5.0, exclude=ONLY_DISKS))["disks"]
    held = [place for disk in disks for place in disk.get("holds", [])]
    assert sorted(held) == ["home directory", "temporary files"], disks


def test_without_a_mount_table_the_root_and_home_are_asked_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    # A sandbox whose /proc/mounts lists neither / nor the home: statvfs still answers.
    monkeypatch.setattr(sysinfo_collectors, "_partitions", lambda *, every: [])
    snapshot: Any = collect(SysinfoOptions(timeout=5.0, exclude=ONLY_DISKS))
    disks = snapshot["disks"]
    assert disks, "the disks group must not come back empty"
    assert all(disk["source"] == "asked the file system directly: not in the mount table" for disk in disks)
    home_disk = next(disk for disk in disks if "home directory" in disk.get("holds", []))
    assert home_disk["total"] > 0 and 0 <= home_disk["percent"] <= 100
    # Full, it raises the flag it could not raise with an empty group.
    home_disk["percent"], home_disk["free"] = 99.0, 1024
    [flag] = [flag for flag in compute_flags(snapshot) if flag.code == "disk_full"]
    assert flag.severity == "critical" and "(holds the home directory" in flag.message
