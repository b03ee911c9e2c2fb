"""The real server process with its files in an S3-compatible store (moto's server on loopback).

Every path of a file goes through the store: reports in, downloads out (API and the person's
page), retention, backup, a crash in the middle of uploads, and a store that cannot be reached.
"""

from __future__ import annotations

import html
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from agent.bundle import ReportBundle
from tests.fixtures.s3 import REGION, S3Endpoint
from tests.fixtures.server import REPO, ServerProcess, free_port
from tests.server.helpers import Upload, api, make_bundle, noisy_png, png_bytes, sha256, submit
from tests.server.test_crash import Uploader

CRASH_UPLOADS = 20


def location(s3_server: S3Endpoint, bucket: str) -> str:
    return f"s3://{bucket}/files?endpoint={s3_server.url}"


def bucket_keys(s3_server: S3Endpoint, bucket: str) -> set[str]:
    """Every key in the bucket, read with a client of our own (not the server's)."""
    env = s3_server.environment()
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_server.url,
        region_name=REGION,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        keys: set[str] = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.update(str(item["Key"]) for item in page.get("Contents", []))
        return keys
    finally:
        client.close()


def key_for(digest: str) -> str:
    return f"files/{digest[:2]}/{digest}"


def files_on_disk(server: ServerProcess) -> list[Path]:
    blobs = server.data_dir / "blobs"
    return [p for p in blobs.rglob("*") if p.is_file()] if blobs.exists() else []


@pytest.fixture
def s3_desk(s3_server: S3Endpoint, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A started server whose files go to a fresh bucket; (server, bucket)."""
    bucket = s3_server.new_bucket()
    server = ServerProcess(
        tmp_path / "server-data", extra_args=["--blobs", location(s3_server, bucket)], env=s3_server.environment()
    )
    try:
        yield server.start(), bucket
    finally:
        server.stop()


def test_files_go_to_the_bucket_and_come_back_byte_identical(
    s3_desk: tuple[ServerProcess, str], s3_server: S3Endpoint
) -> None:
    server, bucket = s3_desk
    submitter = server.token("submitter")
    technician = server.token("technician")
    bundle = make_bundle(images=[png_bytes(seed=901), png_bytes(seed=902), noisy_png(300, 300, seed=903)])
    response = submit(server, submitter, bundle)
    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]

    refs = list(bundle.report.files())
    assert bucket_keys(s3_server, bucket) == {key_for(ref.sha256) for ref in refs}
    assert files_on_disk(server) == []

    # Through the API: the same bytes, the same headers as from the directory store.
    for ref in refs:
        download = api(server, technician, "GET", f"/tickets/{ticket['id']}/files/{ref.path}")
        assert download.status_code == 200, download.text
        assert sha256(download.content) == ref.sha256
        assert download.headers["content-length"] == str(ref.size)
        assert download.headers["content-type"].startswith(ref.media_type)
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
    detail = api(server, technician, "GET", f"/tickets/{ticket['id']}").json()
    assert detail["sysinfo"] == {"os": "TestOS", "seed": 0}  # read back from the store

    # Through the person's page: every screenshot it shows, inline.
    parts = urlsplit(ticket["url"])
    page = requests.get(server.url + parts.path + f"?{parts.query}", timeout=10)
    assert page.status_code == 200
    sources = re.findall(r'<img src="([^"]+)"', page.text)
    step_digests = {step.image.sha256 for step in bundle.report.steps}
    served = set()
    for source in sources:
        image_url = server.url + parts.path.rsplit("/", 1)[0] + "/" + html.unescape(source)
        image = requests.get(image_url, timeout=10)
        assert image.status_code == 200
        assert "attachment" not in image.headers.get("content-disposition", "")
        served.add(sha256(image.content))
    assert served == step_digests


def close(server: ServerProcess, technician: str, ticket_id: str) -> None:
    for status in ("resolved", "closed"):
        response = api(server, technician, "POST", f"/tickets/{ticket_id}/status", json={"status": status})
        assert response.status_code == 200, response.text


def test_retention_deletes_the_objects_and_backup_restore_keep_to_the_database(
    s3_desk: tuple[ServerProcess, str], s3_server: S3Endpoint, tmp_path: Path
) -> None:
    server, bucket = s3_desk
    submitter = server.token("submitter")
    technician = server.token("technician")
    old = make_bundle(images=[png_bytes(seed=911), png_bytes(seed=912)])
    kept = make_bundle(images=[png_bytes(seed=913)])
    for bundle in (old, kept):
        assert submit(server, submitter, bundle).status_code == 201
    close(server, technician, str(old.report.id))

    backup = server.cli("backup", str(tmp_path / "backup"), "--blobs", location(s3_server, bucket))
    assert "NOT copied" in backup.stderr and bucket in backup.stderr
    assert (tmp_path / "backup" / "showdesk.db").is_file()
    assert not (tmp_path / "backup" / "blobs").exists()

    # Restore: without the bucket the backup is incomplete and refused; with it, the database comes back.
    restored = ServerProcess(
        tmp_path / "restored", extra_args=["--blobs", location(s3_server, bucket)], env=s3_server.environment()
    )
    refused = restored.cli("restore", str(tmp_path / "backup"), check=False)
    assert refused.returncode != 0 and "lacks the stored file" in refused.stderr
    restored.cli("restore", str(tmp_path / "backup"), "--blobs", location(s3_server, bucket))
    with restored.start():
        ref = kept.report.steps[0].image
        download = api(restored, technician, "GET", f"/tickets/{kept.report.id}/files/{ref.path}")
        assert download.status_code == 200
        assert sha256(download.content) == ref.sha256

    server.cli("retention", "--days", "0", "--blobs", location(s3_server, bucket))
    purged = {key_for(ref.sha256) for ref in old.report.files() if ref.path != "sysinfo.json"}
    remaining = bucket_keys(s3_server, bucket)
    assert purged and not purged & remaining
    assert {key_for(ref.sha256) for ref in kept.report.files()} <= remaining
    gone = api(server, technician, "GET", f"/tickets/{old.report.id}/files/{old.report.steps[0].image.path}")
    assert gone.status_code == 500  # the row stays, its file is deleted: the plain "missing" answer


def test_an_unreachable_store_stops_the_start_with_a_plain_message(s3_server: S3Endpoint, tmp_path: Path) -> None:
    dead = f"s3://nowhere/files?endpoint=http://127.0.0.1:{free_port()}"
    server = ServerProcess(tmp_path / "server-data", extra_args=["--blobs", dead], env=s3_server.environment())
    result = subprocess.run(
        server.command(), capture_output=True, text=True, env=server.env, cwd=REPO, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "could not be reached while checking the bucket" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_bucket_stops_the_start(s3_server: S3Endpoint, tmp_path: Path) -> None:
    missing = f"s3://showdesk-never-made?endpoint={s3_server.url}"  # new_bucket() names differ
    command = [sys.executable, "-m", "server", "serve", "--port", str(free_port()), "--data", str(tmp_path / "d")]
    server = ServerProcess(tmp_path / "d", env=s3_server.environment())
    result = subprocess.run(
        [*command, "--blobs", missing], capture_output=True, text=True, env=server.env, cwd=REPO, timeout=120
    )
    assert result.returncode != 0
    assert "the bucket does not exist" in result.stderr


def _crash_bundles() -> list[ReportBundle]:
    # Some of ~200 kB so bodies span several chunks, like the directory store's crash test.
    return [
        make_bundle(
            index, images=[noisy_png(260, 260, seed=index) if index % 3 == 0 else noisy_png(40, 30, seed=index)]
        )
        for index in range(CRASH_UPLOADS)
    ]


def test_sigkill_during_uploads_leaves_no_row_without_its_object(
    s3_desk: tuple[ServerProcess, str], s3_server: S3Endpoint
) -> None:
    server, bucket = s3_desk
    token = server.token("submitter")
    bundles = _crash_bundles()
    uploads = [Upload.of(b) for b in bundles]
    uploader = Uploader(server, token, uploads, kill_upload=CRASH_UPLOADS // 2, kill_chunk=3)
    uploader.start()
    assert uploader.at_kill_point.wait(120), "the uploader never reached the kill point"
    server.kill()
    uploader.join(60)
    assert not uploader.is_alive()
    assert uploader.failed_at is not None, "the kill did not interrupt the uploads"

    server.start()
    technician = server.token("technician")
    conn = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    try:
        named = {str(row[0]) for row in conn.execute("SELECT DISTINCT sha256 FROM files")}
    finally:
        conn.close()
    stored = bucket_keys(s3_server, bucket)
    assert {key_for(digest) for digest in named} <= stored, "a row names a file the store does not hold"
    assert not any((server.data_dir / "tmp").iterdir()), "unfinished uploads were not cleared"

    present: set[str] = set()
    for bundle in bundles:
        response = api(server, technician, "GET", f"/tickets/{bundle.report.id}")
        if response.status_code == 404:
            assert str(bundle.report.id) not in uploader.confirmed, "a confirmed ticket was lost"
            continue
        detail: dict[str, Any] = response.json()
        present.add(str(bundle.report.id))
        for ref in bundle.report.files():
            download = api(server, technician, "GET", f"/tickets/{detail['id']}/files/{ref.path}")
            assert download.status_code == 200
            assert sha256(download.content) == ref.sha256
    assert set(uploader.confirmed) <= present
    assert files_on_disk(server) == []
