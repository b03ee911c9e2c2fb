"""Server operations: an online backup under load restores whole; restore's refusals; retention."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.bundle import AttachmentDraft, ReportBundle
from server.retention import SECONDS_PER_DAY, apply_retention
from server.thumbnails import thumbnail_path
from tests.fixtures.server import REPO, ServerProcess
from tests.fixtures.waiting import wait_until
from tests.server.helpers import api, make_bundle, png_bytes, sha256, submit

SUBMISSIONS = 20


def server_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args, "--data", str(data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def download(server: ServerProcess, token: str, url_path: str) -> bytes:
    response = requests.get(f"{server.api}{url_path}", headers=server.auth(token), timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def file_paths(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(bundle path, sha256) of every file a report manifest names."""
    refs: list[tuple[str, str]] = []
    for step in report["steps"]:
        refs.append((step["image"]["path"], step["image"]["sha256"]))
    for attachment in report["attachments"]:
        refs.append((attachment["file"]["path"], attachment["file"]["sha256"]))
    sysinfo = report.get("sysinfo")
    if sysinfo:
        refs.append((sysinfo["path"], sysinfo["sha256"]))
    return refs


# ---------------------------------------------------------------- backup and restore
def test_a_backup_taken_while_reports_arrive_restores_whole(server_process: ServerProcess, tmp_path: Path) -> None:
    submitter = server_process.token("submitter")
    bundles = [
        make_bundle(
            300 + i,
            steps=2,
            attachments=[AttachmentDraft(f"log line {i}\n".encode() * 50, f"app-{i}.log", "text/plain")],
        )
        for i in range(SUBMISSIONS)
    ]
    by_id = {str(b.report.id): b for b in bundles}
    some_arrived = threading.Event()
    done = 0
    lock = threading.Lock()

    def send(bundle: ReportBundle) -> int:
        nonlocal done
        status = submit(server_process, submitter, bundle).status_code
        with lock:
            done += 1
            if done >= 3:
                some_arrived.set()
        return status

    destination = tmp_path / "backup"
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(send, bundle) for bundle in bundles]
        assert some_arrived.wait(60)
        backup = server_process.cli("backup", str(destination))
        statuses = [future.result() for future in futures]
    assert statuses == [201] * SUBMISSIONS

    restored_dir = tmp_path / "restored"
    result = server_cli(restored_dir, "restore", str(destination))
    assert result.returncode == 0, result.stderr
    backed_up = int(backup.stderr.split("backed up ", 1)[1].split(" ", 1)[0])
    assert 3 <= backed_up <= SUBMISSIONS
    assert f"restored {backed_up} ticket(s)" in result.stderr

    restored = ServerProcess(restored_dir)
    try:
        restored.start()
        technician = restored.token("technician")
        tickets = api(restored, technician, "GET", "/tickets", params={"limit": 200}).json()["tickets"]
        assert len(tickets) == backed_up
        for ticket in tickets:
            bundle = by_id[ticket["id"]]
            detail = api(restored, technician, "GET", f"/tickets/{ticket['id']}").json()
            refs = file_paths(detail["report"])
            assert len(refs) == 4  # two steps, one attachment, the system information
            for path, digest in refs:
                data = download(restored, technician, f"/tickets/{ticket['id']}/files/{path}")
                assert sha256(data) == digest == sha256(bundle.files[path])
    finally:
        restored.stop()


def test_restore_needs_the_server_stopped_and_keeps_what_was_there(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    submitter = server_process.token("submitter")
    first = make_bundle(401)
    assert submit(server_process, submitter, first).status_code == 201
    destination = tmp_path / "backup"
    server_process.cli("backup", str(destination))
    assert submit(server_process, submitter, make_bundle(402)).status_code == 201

    running = server_cli(server_process.data_dir, "restore", str(destination), "--replace")
    assert running.returncode == 1
    assert "another ShowDesk server is using" in running.stderr

    server_process.stop()
    occupied = server_cli(server_process.data_dir, "restore", str(destination))
    assert occupied.returncode == 1
    assert "already holds a database; pass --replace" in occupied.stderr

    replaced = server_cli(server_process.data_dir, "restore", str(destination), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    aside = list(server_process.data_dir.glob("before-restore-*"))
    assert len(aside) == 1
    kept = sqlite3.connect(f"file:{aside[0] / 'showdesk.db'}?mode=ro", uri=True)
    try:
        assert kept.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2
    finally:
        kept.close()
    server_process.start()
    technician = server_process.token("technician")
    tickets = api(server_process, technician, "GET", "/tickets").json()["tickets"]
    assert [t["id"] for t in tickets] == [str(first.report.id)]


def test_restore_refuses_a_damaged_backup_and_changes_nothing(server_process: ServerProcess, tmp_path: Path) -> None:
    submitter = server_process.token("submitter")
    assert submit(server_process, submitter, make_bundle(410)).status_code == 201
    destination = tmp_path / "backup"
    server_process.cli("backup", str(destination))
    blob = next(p for p in (destination / "blobs").glob("*/*") if p.is_file())
    blob.write_bytes(blob.read_bytes() + b"!")
    target = tmp_path / "target"

    result = server_cli(target, "restore", str(destination))

    assert result.returncode == 1
    assert "does not match its sha256" in result.stderr
    assert not (target / "showdesk.db").exists()


# ---------------------------------------------------------------- retention
def closed_at(server: ServerProcess, ticket_id: str) -> float:
    conn = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    try:
        value = conn.execute("SELECT closed_at FROM tickets WHERE id = ?", (ticket_id,)).fetchone()[0]
    finally:
        conn.close()
    assert value is not None
    return float(value)


def close(server: ServerProcess, technician: str, ticket_id: str) -> float:
    for status in ("resolved", "closed"):
        response = api(server, technician, "POST", f"/tickets/{ticket_id}/status", json={"status": status})
        assert response.status_code == 200, response.text
    return closed_at(server, ticket_id)


def blob_exists(server: ServerProcess, digest: str) -> bool:
    return (server.blobs_dir / digest[:2] / digest).is_file()


def test_retention_deletes_exactly_the_files_past_the_limit(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter")
    technician = server_process.token("technician")
    shared_picture = png_bytes(seed=4242)
    old_a = make_bundle(
        501, images=[shared_picture, png_bytes(seed=5011)], attachments=[AttachmentDraft(b"a" * 300, "a.txt")]
    )
    old_b = make_bundle(502, steps=1)
    recent_c = make_bundle(503, steps=1)
    open_d = make_bundle(504, images=[shared_picture])
    for bundle in (old_a, old_b, recent_c, open_d):
        assert submit(server_process, submitter, bundle).status_code == 201
    closed_a = close(server_process, technician, str(old_a.report.id))
    closed_b = close(server_process, technician, str(old_b.report.id))
    closed_c = close(server_process, technician, str(recent_c.report.id))
    assert closed_a < closed_b < closed_c
    days = 90
    limit = days * SECONDS_PER_DAY

    def digests(bundle: ReportBundle, *, sysinfo: bool = False) -> set[str]:
        return {ref.sha256 for ref in bundle.report.files() if (ref.path == "sysinfo.json") is sysinfo}

    # Exactly N days after B closed, B is not "closed more than N days ago" yet.
    boundary = apply_retention(server_process.data_dir, days, now=closed_b + limit, dry_run=True)
    assert [t.id for t in boundary.tickets] == [str(old_a.report.id)]

    now = closed_b + limit + 0.001
    listing = apply_retention(server_process.data_dir, days, now=now, dry_run=True)
    assert [t.id for t in listing.tickets] == [str(old_a.report.id), str(old_b.report.id)]
    listed = {f.sha256: f.shared for t in listing.tickets for f in t.files}
    assert set(listed) == digests(old_a) | digests(old_b)
    assert listed[sha256(shared_picture)] is True  # the open ticket D shows the same picture
    assert all(blob_exists(server_process, d) for d in listed)  # a dry run deletes nothing

    # The person's page shows thumbnails, made in the background after each submission.
    private_picture = sha256(png_bytes(seed=5011))
    wait_until(lambda: thumbnail_path(server_process.data_dir, private_picture).is_file(), "old A's thumbnail", 30)

    result = apply_retention(server_process.data_dir, days, now=now)

    expected_gone = (digests(old_a) | digests(old_b)) - {sha256(shared_picture)}
    assert result.blobs_deleted == len(expected_gone)
    assert not thumbnail_path(server_process.data_dir, private_picture).exists(), "a deleted blob's thumbnail goes too"
    for bundle in (old_a, old_b, recent_c, open_d):
        for digest in digests(bundle) | digests(bundle, sysinfo=True):
            assert blob_exists(server_process, digest) is (digest not in expected_gone), (bundle.report.id, digest)
    # The expired ticket itself stays readable; the open one still serves the shared picture.
    assert api(server_process, technician, "GET", f"/tickets/{old_a.report.id}").status_code == 200
    detail = api(server_process, technician, "GET", f"/tickets/{open_d.report.id}").json()
    shared_path = detail["steps"][0]["image"]["path"]
    picture = download(server_process, technician, f"/tickets/{open_d.report.id}/files/{shared_path}")
    assert sha256(picture) == sha256(shared_picture)
    assert apply_retention(server_process.data_dir, days, now=now).tickets == []

    # Once D is closed and old enough too, the shared picture goes.
    closed_d = close(server_process, technician, str(open_d.report.id))
    later = apply_retention(server_process.data_dir, days, now=closed_d + limit + 1)
    assert not blob_exists(server_process, sha256(shared_picture))
    assert {t.id for t in later.tickets} == {str(old_a.report.id), str(recent_c.report.id), str(open_d.report.id)}
    assert [f.path for f in later.tickets[0].files] == ["steps/001.png"]
    assert closed_c < closed_d


def test_retention_command_lists_in_a_dry_run_and_reads_its_default_from_the_configuration(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    submitter = server_process.token("submitter")
    technician = server_process.token("technician")
    bundle = make_bundle(601, steps=2)
    assert submit(server_process, submitter, bundle).status_code == 201
    close(server_process, technician, str(bundle.report.id))
    machine = tmp_path / "machine.toml"
    env = {"SHOWDESK_MACHINE_CONFIG": str(machine)}

    machine.write_text("[server]\nretention_days = 0\n")
    dry = server_cli(server_process.data_dir, "retention", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    listing = json.loads(dry.stdout)
    assert listing["days"] == 0 and listing["dry_run"] is True
    assert [t["id"] for t in listing["tickets"]] == [str(bundle.report.id)]
    assert {f["path"] for f in listing["tickets"][0]["files"]} == {"steps/001.png", "steps/002.png"}
    assert all(blob_exists(server_process, f["sha256"]) for f in listing["tickets"][0]["files"])

    # The command line wins over the file: 90 days keeps a ticket closed just now.
    assert "0 ticket(s)" in server_cli(server_process.data_dir, "retention", "--days", "90", env=env).stderr

    machine.write_text('[server]\nretention_days = "ninety"\n')
    bad = server_cli(server_process.data_dir, "retention", env=env)
    assert bad.returncode == 5
    assert str(machine) in bad.stderr and "server.retention_days must be int" in bad.stderr


@pytest.mark.parametrize("days", ["-1", "soon"])
def test_retention_refuses_a_nonsense_number_of_days(tmp_path: Path, days: str) -> None:
    result = server_cli(tmp_path / "data", "retention", "--days", days)
    assert result.returncode == 2
    assert "days" in result.stderr


# ---------------------------------------------------------------- the server's reading of the configuration
def test_the_server_reads_the_same_files_and_keys_the_configuration_documents(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from agent import config as agent_config
    from server import cli as server_cli_module

    documented = {s.key.split(".", 1)[1]: s.type for s in agent_config.SETTINGS if s.key.startswith("server.")}
    assert documented == server_cli_module.SERVER_KEYS
    assert agent_config._BY_KEY["server.retention_days"].default == server_cli_module.DEFAULT_RETENTION_DAYS
    monkeypatch.delenv("SHOWDESK_MACHINE_CONFIG")
    monkeypatch.delenv("SHOWDESK_CONFIG")
    assert server_cli_module.machine_config_path() == agent_config.machine_config_path()
    assert server_cli_module.user_config_path() == agent_config.user_config_path()
    monkeypatch.setenv("SHOWDESK_MACHINE_CONFIG", str(tmp_path / "m.toml"))
    monkeypatch.setenv("SHOWDESK_CONFIG", str(tmp_path / "u.toml"))
    (tmp_path / "m.toml").write_text('[server]\nport = 9100\nhost = "0.0.0.0"\n')
    (tmp_path / "u.toml").write_text("[server]\nport = 9200\n")
    assert server_cli_module.configured_server_settings() == {"host": "0.0.0.0", "port": 9200}
    assert agent_config.load_config().get("server.port") == 9200


def test_a_clip_is_stored_with_role_clip_and_retention_deletes_clips_and_answer_photos(
    server_process: ServerProcess,
) -> None:
    from agent.bundle import build_bundle
    from agent.clips import encode_clip
    from tests.clips.synthetic import marked_recording

    submitter = server_process.token("submitter")
    technician = server_process.token("technician")
    clip = encode_clip(marked_recording(5, 0.2))
    bundle = build_bundle(make_bundle(601).report, clips=[clip.draft("the dialog that flashed")])
    assert submit(server_process, submitter, bundle).status_code == 201
    ticket_id = str(bundle.report.id)
    photo = png_bytes(seed=6011)
    answered = requests.post(
        f"{server_process.api}/tickets/{ticket_id}/answer",
        headers={**server_process.auth(submitter), "Idempotency-Key": "answer-for-retention"},
        data={"text": "here is the screen now"},
        files=[("photo", ("now.png", photo, "image/png"))],
        timeout=30,
    )
    assert answered.status_code in (200, 201), answered.text
    conn = sqlite3.connect(f"file:{server_process.db_path}?mode=ro", uri=True)
    try:
        roles = dict(
            conn.execute(
                "SELECT f.path, f.role FROM files f JOIN tickets t ON t.seq = f.ticket_seq WHERE t.id = ?", (ticket_id,)
            ).fetchall()
        )
    finally:
        conn.close()
    assert roles["clips/001.webp"] == "clip"
    assert "answer" in roles.values()
    closed = close(server_process, technician, ticket_id)

    result = apply_retention(server_process.data_dir, 1, now=closed + 2 * SECONDS_PER_DAY)

    deleted = {f.role: f.sha256 for t in result.tickets for f in t.deleted}
    assert {"clip", "answer"} <= set(deleted)
    assert deleted["clip"] == sha256(clip.data)
    assert deleted["answer"] == sha256(photo)
    assert not blob_exists(server_process, sha256(clip.data))
    assert not blob_exists(server_process, sha256(photo))
