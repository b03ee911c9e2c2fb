"""``showdesk server migrate``: a real SQLite installation moved into the test PostgreSQL and moto's S3.

The source is made once per module by the real server through its API (reports with screenshots,
notes, a walk-up visit called and served, a closed ticket, a revoked token); each test copies it.
The target is the session's throw-away PostgreSQL (a database per test) and a bucket per test on
moto's S3 server (tests/fixtures/postgres.py, tests/fixtures/s3.py).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from agent.bundle import AttachmentDraft
from server.blob_location import open_blobs
from server.blobs import BlobBackend
from server.migrate import MigrationError, main, migrate, open_target_store
from server.store import Store
from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.s3 import S3Endpoint
from tests.fixtures.server import REPO, ServerProcess
from tests.fixtures.waiting import wait_until
from tests.server.helpers import api, make_bundle, png_bytes, sha256, submit

REPORTS = 14


@dataclass
class Installation:
    """The source made through the API, and what was sent to it."""

    data_dir: Path
    sent: dict[str, bytes]  # sha256 → the bytes a client sent
    active_tokens: list[str]
    revoked_token: str
    ticket_ids: list[str]


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    server = ServerProcess(tmp_path_factory.mktemp("migrate-source") / "data").start()
    try:
        submitter = server.token("submitter")
        technician = server.token("technician")
        kiosk = server.token("submitter", site="hq")
        leaving = server.token("technician")
        sent: dict[str, bytes] = {}
        ids: list[str] = []
        shared = png_bytes(seed=999)  # the same screenshot in two reports: one stored file, named twice
        for index in range(REPORTS):
            images = [png_bytes(seed=index * 10 + step) for step in range(2)]
            if index in (3, 4):
                images.append(shared)
            attachments = [AttachmentDraft(f"log {index}\n".encode() * 50, f"log-{index}.txt", "text/plain")]
            walk_up = index == 5
            bundle = make_bundle(
                index,
                images=images,
                attachments=attachments,
                walk_up=walk_up,
                site="hq" if walk_up else None,
                kind="kiosk" if walk_up else "agent",
                description=f"printer {index} shows an error",
            )
            response = submit(server, kiosk if walk_up else submitter, bundle)
            assert response.status_code == 201, response.text
            sent.update({sha256(data): data for data in bundle.files.values()})
            ids.append(response.json()["ticket"]["id"])
        api(server, technician, "POST", f"/tickets/{ids[0]}/notes", json={"text": "internal look"})
        api(server, technician, "POST", f"/tickets/{ids[0]}/notes", json={"text": "a reply", "internal": False})
        api(server, technician, "POST", f"/tickets/{ids[1]}/assign", json={"assignee": "me"})
        for status in ("open", "resolved", "closed"):
            response = api(server, technician, "POST", f"/tickets/{ids[2]}/status", json={"status": status})
            assert response.status_code == 200, response.text
        assert api(server, technician, "POST", "/queue/hq/next").status_code == 200
        assert api(server, technician, "POST", f"/tickets/{ids[5]}/queue/served").status_code == 200
        server.cli("token", "revoke", _token_name(server, leaving))
    finally:
        server.stop()
    return Installation(server.data_dir, sent, [submitter, technician, kiosk], leaving, ids)


def _token_name(server: ServerProcess, secret: str) -> str:
    response = requests.get(f"{server.api}/whoami", headers=server.auth(secret), timeout=10)
    response.raise_for_status()
    return str(response.json()["name"])


@pytest.fixture
def source(installation: Installation, tmp_path: Path) -> Path:
    """A copy of the installation for this test (a test may corrupt it)."""
    copy = tmp_path / "source"
    shutil.copytree(installation.data_dir, copy)
    return copy


@pytest.fixture
def database_url(postgres_server: PostgresCluster) -> str:
    return postgres_server.database_url(postgres_server.new_database("migrate"))


@pytest.fixture
def blobs_url(s3_server: S3Endpoint) -> Iterator[str]:
    saved = dict(os.environ)
    os.environ.update(s3_server.environment())
    try:
        yield f"s3://{s3_server.new_bucket('migrate')}/files?endpoint={s3_server.url}"
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def target(database_url: str, blobs_url: str, tmp_path: Path) -> Iterator[tuple[Store, BlobBackend]]:
    spool = tmp_path / "target-spool"
    spool.mkdir()
    store = open_target_store(database_url, spool)
    blobs = open_blobs(spool, blobs_url)
    try:
        yield store, blobs
    finally:
        store.close()
        blobs.close()


def test_every_row_and_file_moves_and_reads_back_through_the_target(
    installation: Installation,
    source: Path,
    target: tuple[Store, BlobBackend],
    database_url: str,
    blobs_url: str,
    tmp_path: Path,
) -> None:
    store, blobs = target
    summary = migrate(source, target_store=store, target_blobs=blobs)
    assert summary.ok, summary.problems
    assert all(t.source_rows == t.target_rows and t.verified for t in summary.tables)
    assert summary.blobs is not None
    assert summary.blobs.copied == summary.blobs.verified == len(installation.sent)

    # Read back as a server started on the target would: a store opened after the move.
    store = open_target_store(database_url, tmp_path / "target-spool")
    before = Store(source)
    try:
        for ticket_id in installation.ticket_ids:
            ticket, files, events = before.ticket_detail(ticket_id, include_internal=True)
            assert store.ticket_detail(ticket_id, include_internal=True) == (ticket, files, events)
            for file in files:
                assert blobs.read_bytes(file.sha256) == installation.sent[file.sha256]
            # The person's link sent before the move opens the same ticket after it.
            moved = store.ticket_by_link(before.link_secret(ticket))
            assert moved is not None and moved.id == ticket_id
        assert store.changes_after(0, limit=1000) == before.changes_after(0, limit=1000)
        assert store.list_tokens(include_revoked=True) == before.list_tokens(include_revoked=True)
        assert store.queue_board("hq") == before.queue_board("hq")
        for secret in installation.active_tokens:
            assert store.authenticate(secret) is not None
        assert store.authenticate(installation.revoked_token) is None
    finally:
        before.close()
        store.close()

    # A server on the target serves the moved tickets and files, and numbers new ones after them.
    server = ServerProcess(tmp_path / "after", extra_args=["--blobs", blobs_url], database=database_url).start()
    try:
        technician = installation.active_tokens[1]
        detail = api(server, technician, "GET", f"/tickets/{installation.ticket_ids[7]}").json()
        step = detail["steps"][0]["image"]
        download = api(server, technician, "GET", f"/files/{step['id']}")
        assert download.status_code == 200 and sha256(download.content) == step["sha256"]
        new = submit(server, installation.active_tokens[0], make_bundle(77, steps=1))
        assert new.status_code == 201, new.text
        numbers = [
            int(re.sub(r"\D", "", t["number"])) for t in api(server, technician, "GET", "/tickets").json()["tickets"]
        ]
        assert int(re.sub(r"\D", "", new.json()["ticket"]["number"])) == max(numbers)
        assert len(numbers) == REPORTS + 1
    finally:
        server.stop()


def test_a_corrupt_file_in_the_source_fails_the_migration_naming_it(
    source: Path, database_url: str, blobs_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    blob = sorted((source / "blobs").glob("*/*"))[3]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))

    status = main(["--from", str(source), "--database", database_url, "--blobs", blobs_url])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"file {blob.name} (SD-" in out and "corrupt in the source" in out
    assert "did not verify" in err
    spool = source.parent / "spool"
    spool.mkdir()
    store, blobs = open_target_store(database_url, spool), open_blobs(spool, blobs_url)
    try:
        assert not blobs.exists(blob.name), "bytes that do not match their name were stored"
        assert store.count_tickets() == 0, "rows were written although a file they name failed"
    finally:
        store.close()
        blobs.close()


def test_a_target_in_use_or_a_running_source_is_refused(
    source: Path, database_url: str, blobs_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = source.parent / "no-such-installation"
    assert main(["--from", str(missing), "--database", database_url, "--blobs", blobs_url]) == 1
    assert "holds no ShowDesk server database" in capsys.readouterr().err
    assert not missing.exists(), "a spool directory was made under a data directory that is not there"
    assert main(["--from", str(source), "--database", database_url, "--blobs", blobs_url]) == 0
    capsys.readouterr()
    assert main(["--from", str(source), "--database", database_url]) == 1
    refusal = capsys.readouterr().err
    assert "already holds" in refusal and "--resume" in refusal
    assert main(["--from", str(source), "--blobs", blobs_url]) == 1
    assert "--resume" in capsys.readouterr().err
    # Resuming a finished migration copies nothing and verifies everything again.
    assert main(["--from", str(source), "--database", database_url, "--blobs", blobs_url, "--resume"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^tickets\s+(\d+)\s+\1\s+0\s+yes", out, re.MULTILINE), out

    server = ServerProcess(source).start()
    try:
        with pytest.raises(MigrationError, match="another ShowDesk server"):
            migrate(source, target_store=None, target_blobs=open_blobs(source, blobs_url), resume=True)
    finally:
        server.stop()


def _run_until(command: list[str], log: Path, line: str) -> None:
    """Start the migration and SIGKILL it as soon as its progress shows ``line``."""
    with log.open("wb") as stream:
        process = subprocess.Popen(command, stdout=stream, stderr=stream, cwd=REPO, env=dict(os.environ))
    try:
        wait_until(
            lambda: line in log.read_text(errors="replace") or process.poll() is not None, f"progress {line!r}", 60
        )
        assert process.poll() is None, f"the migration ended before {line!r}:\n{log.read_text()}"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)


def test_a_migration_killed_mid_copy_resumes_and_copies_nothing_twice(
    installation: Installation, source: Path, database_url: str, blobs_url: str, tmp_path: Path
) -> None:
    base = [sys.executable, "-m", "server.migrate", "--from", str(source), "--database", database_url]
    base += ["--blobs", blobs_url, "--batch-rows", "1"]
    _run_until(base, tmp_path / "first.log", "files: 10 copied")
    _run_until([*base, "--resume"], tmp_path / "second.log", "events: 3 row(s) copied")
    done = subprocess.run([*base, "--resume"], capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    files = re.search(
        r"^files \(sha256 read back\)\s+(\d+)\s+(\d+)\s+(\d+)\s+yes \((\d+) already there", done.stdout, re.MULTILINE
    )
    assert files, done.stdout
    named, verified, copied_now, already = map(int, files.groups())
    assert named == verified == len(installation.sent) == copied_now + already
    assert already >= 10, "the files copied before the kill were copied again"
    events = re.search(r"^events\s+(\d+)\s+(\d+)\s+(\d+)\s+yes", done.stdout, re.MULTILINE)
    assert events, done.stdout
    source_rows, target_rows, copied_rows = map(int, events.groups())
    assert source_rows == target_rows and copied_rows <= source_rows - 3


def test_either_half_moves_alone(
    installation: Installation, source: Path, database_url: str, blobs_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the files: SQLite stays, the bucket gets every file.
    assert main(["--from", str(source), "--blobs", blobs_url]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^files \(sha256 read back\)\s+{len(installation.sent)}\s+{len(installation.sent)}\s", out, re.M)
    assert not re.search(r"^tickets\s", out, re.M), "rows were moved although no database was given"
    # Only the rows: the files stay in the data directory, where a server on PostgreSQL serves them.
    assert main(["--from", str(source), "--database", database_url]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^tickets\s+{REPORTS}\s+{REPORTS}\s+{REPORTS}\s+yes", out, re.M), out
    assert "files (sha256" not in out
    server = ServerProcess(source, database=database_url).start()
    try:
        technician = installation.active_tokens[1]
        detail = api(server, technician, "GET", f"/tickets/{installation.ticket_ids[4]}").json()
        image = detail["steps"][-1]["image"]
        download = api(server, technician, "GET", f"/files/{image['id']}")
        assert download.status_code == 200 and download.content == installation.sent[image["sha256"]]
    finally:
        server.stop()
