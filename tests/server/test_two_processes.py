"""Two real ``showdesk server`` processes sharing one PostgreSQL and one S3 bucket (moto's server).

This is the multi-process layout of docs/deployment.md on loopback: processes A and B on their
own ports and data directories (as on two machines), one database, one bucket. Whatever a client
does through one must hold through the other: the changes feed, idempotent submissions, token
revocation, per-token rate limits, and a crash of one process in the middle of uploads.

The pair is started once for the module; the crash test, which kills A, runs last and starts it again.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from agent.connectors.builtin import BuiltinConnector
from agent.schema import SYSINFO_PATH
from technician.client import TechClient
from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.s3 import S3Endpoint
from tests.fixtures.server import ServerProcess
from tests.server.helpers import Upload, api, make_bundle, noisy_png, sha256, submit
from tests.server.test_crash import Uploader
from tests.server.test_server_s3 import bucket_keys

NOTE_BURST = 4
CRASH_UPLOADS = 100
FEED_DEADLINE_SECONDS = 2.0


@dataclass
class Pair:
    a: ServerProcess
    b: ServerProcess
    database: str  # the database's name in the test cluster
    database_url: str
    bucket: str
    cluster: PostgresCluster
    s3: S3Endpoint

    def token(self, role: str, *, name: str | None = None) -> str:
        """A token made with the real command line on the shared database (either process sees it)."""
        return self.a.token(role, name=name)

    def sql(self, statement: str) -> str:
        return self.cluster.psql(statement, self.database)


@pytest.fixture(scope="module")
def pair(
    postgres_server: PostgresCluster, s3_server: S3Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    database = postgres_server.new_database("pair")
    url = postgres_server.database_url(database)
    bucket = s3_server.new_bucket("pair")
    blobs = f"s3://{bucket}/files?endpoint={s3_server.url}"
    root = tmp_path_factory.mktemp("pair")
    # The rate limit is the notes' (a small burst, a slow refill), so submissions stay unlimited.
    args = ["--blobs", blobs, "--note-rate", "1", "--note-burst", str(NOTE_BURST)]
    env = s3_server.environment()
    a = ServerProcess(root / "a", extra_args=args, env=env, database=url)
    b = ServerProcess(root / "b", extra_args=args, env=env, database=url)
    try:
        a.start()
        b.start()
        yield Pair(a, b, database, url, bucket, postgres_server, s3_server)
    finally:
        a.stop()
        b.stop()


def test_a_report_to_one_appears_in_the_others_feed_within_two_seconds(pair: Pair) -> None:
    submitter, technician = pair.token("submitter"), pair.token("technician")
    start = api(pair.b, technician, "GET", "/changes").json()["last_seq"]
    answer: dict[str, Any] = {}

    def follow() -> None:
        # A long poll on B: it returns as soon as B hears of a commit (made by A).
        answer["page"] = api(pair.b, technician, "GET", "/changes", params={"after": start, "wait": 20}).json()
        answer["at"] = time.monotonic()

    follower = threading.Thread(target=follow)
    follower.start()
    bundle = make_bundle(1)
    response = submit(pair.a, submitter, bundle)
    committed = time.monotonic()
    assert response.status_code == 201, response.text
    follower.join(25)
    assert not follower.is_alive()
    kinds = {(c["ticket_id"], c["kind"]) for c in answer["page"]["changes"]}
    assert (str(bundle.report.id), "created") in kinds
    assert answer["at"] - committed < FEED_DEADLINE_SECONDS


def test_technician_mode_on_one_process_sees_a_ticket_submitted_to_the_other(pair: Pair) -> None:
    submitter, technician = pair.token("submitter"), pair.token("technician")
    client = TechClient(lambda: BuiltinConnector(pair.b.url, token=technician, connect_timeout=2, read_timeout=30))
    try:
        client.sign_in()
        after = client.current_change_seq()
        result: dict[str, Any] = {}
        follower = threading.Thread(target=lambda: result.update(page=client.changes(after, wait=20)))
        follower.start()
        bundle = make_bundle(2, description="seen live on the other process")
        assert submit(pair.a, submitter, bundle).status_code == 201
        follower.join(25)
        assert str(bundle.report.id) in [c.ticket_id for c in result["page"].changes]
        info = client.ticket(str(bundle.report.id))
        assert info.summary.id == str(bundle.report.id)
        assert info.report is not None and info.report.description == "seen live on the other process"
    finally:
        client.close()


def test_fifty_concurrent_replays_spread_over_both_make_one_ticket(pair: Pair) -> None:
    submitter, technician = pair.token("submitter"), pair.token("technician")
    upload = Upload.of(make_bundle(3, steps=2))

    def send(index: int) -> tuple[int, str]:
        response = submit(pair.a if index % 2 else pair.b, submitter, upload, timeout=60)
        return response.status_code, response.json()["ticket"]["number"] if response.ok else response.text

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(send, range(50)))
    assert sorted(status for status, _ in answers) == [200] * 49 + [201], answers
    assert len({number for _, number in answers}) == 1
    # The report id is a UUID this test made: nothing from outside enters the statement.
    assert pair.sql(f"SELECT count(*) FROM tickets WHERE id = '{upload.report_id}'") == "1"  # noqa: S608
    events = api(pair.a, technician, "GET", f"/tickets/{upload.report_id}").json()["timeline"]
    assert [e["kind"] for e in events].count("created") == 1


def test_a_token_revoked_through_one_is_refused_by_the_other_at_once(pair: Pair) -> None:
    admin = pair.token("admin")
    name = f"leaving-{time.monotonic_ns()}"
    leaving = pair.token("technician", name=name)
    assert api(pair.b, leaving, "GET", "/whoami").status_code == 200
    assert api(pair.a, admin, "DELETE", f"/tokens/{name}").status_code == 200
    assert api(pair.b, leaving, "GET", "/whoami").status_code == 401


def test_a_rate_limit_per_token_holds_across_both(pair: Pair) -> None:
    submitter, technician = pair.token("submitter"), pair.token("technician")
    bundle = make_bundle(4)
    assert submit(pair.a, submitter, bundle).status_code == 201
    ticket = str(bundle.report.id)
    statuses = [
        api(server, technician, "POST", f"/tickets/{ticket}/notes", json={"text": f"note {n}"}).status_code
        for n, server in enumerate([pair.a, pair.b] * NOTE_BURST)
    ]
    # One bucket for the token in the database: the burst is spent once, wherever the requests land.
    assert statuses == [201] * NOTE_BURST + [429] * NOTE_BURST, statuses


def test_sigkill_of_one_during_uploads_over_both_leaves_whole_reports_or_none(pair: Pair) -> None:
    submitter, technician = pair.token("submitter"), pair.token("technician")
    rng = random.Random(19)
    bundles = [
        make_bundle(1000 + i, images=[noisy_png(260, 260, seed=i) if rng.random() < 0.3 else noisy_png(40, 30, i)])
        for i in range(CRASH_UPLOADS)
    ]
    uploads = [Upload.of(b) for b in bundles]
    sent = {sha256(data): data for b in bundles for data in b.files.values()}
    half = CRASH_UPLOADS // 2
    to_a = Uploader(pair.a, submitter, uploads[:half], kill_upload=rng.randrange(10, half - 10), kill_chunk=3)
    to_b = Uploader(pair.b, submitter, uploads[half:], kill_upload=half + 1, kill_chunk=0)  # never reached
    to_a.start()
    to_b.start()
    try:
        assert to_a.at_kill_point.wait(120), "the uploads to A never reached the kill point"
        pair.a.kill()
        to_a.join(60)
        to_b.join(120)
        assert not to_a.is_alive() and not to_b.is_alive()
        assert to_a.failed_at is not None, "the kill did not interrupt the uploads to A"
        assert to_b.failed_at is None and len(to_b.confirmed) == CRASH_UPLOADS - half, "B suffered from A's death"

        for upload in uploads:
            found = api(pair.b, technician, "GET", f"/tickets/{upload.report_id}")
            if found.status_code == 404:
                assert upload.report_id not in to_a.confirmed, "a confirmed report is gone"
                retried = submit(pair.b, submitter, upload)
                assert retried.status_code == 201, retried.text
                found = api(pair.b, technician, "GET", f"/tickets/{upload.report_id}")
            assert found.status_code == 200
            detail = found.json()
            files = [step["image"] for step in detail["steps"]] + [a["file"] for a in detail["attachments"]]
            assert detail["sysinfo"] is not None
            assert {f["path"] for f in files} | {SYSINFO_PATH} == set(upload.files)
            for file in files:
                download = api(pair.b, technician, "GET", f"/files/{file['id']}")
                assert download.status_code == 200 and download.content == upload.files[file["path"]]
                assert sha256(download.content) == file["sha256"]

        # No row without its object, no ticket without its files or its first event, no object without a row.
        named = set(pair.sql("SELECT DISTINCT sha256 FROM files").split())
        stored = {key.rsplit("/", 1)[-1] for key in bucket_keys(pair.s3, pair.bucket)}
        assert named <= stored
        assert stored - named == set(), "objects no row names (a crash between the PUT and the commit)"
        assert set(sent) <= named
        assert (
            pair.sql(
                "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.ticket_seq = t.seq)"
            )
            == "0"
        )
        assert (
            pair.sql(
                "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM events e "
                "WHERE e.ticket_seq = t.seq AND e.kind = 'created')"
            )
            == "0"
        )
    finally:
        if not pair.a.is_running():
            pair.a.start()
