"""The HTTP edge: integers, moments and JSON bodies out of bounds are 422s naming the bound; a full
disk is a 507; every error body has the one declared shape. Each against the real server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fixtures.server import ServerProcess, database_for
from tests.server.helpers import api, make_bundle, noisy_png, png_bytes, submit

MAX_INT = 2**63 - 1


@pytest.fixture(scope="module")
def edge_server(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("edge") / "data", database=database_for(server_engine, request))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ticket(edge_server: ServerProcess) -> dict[str, str]:
    answer = submit(edge_server, edge_server.token("submitter"), make_bundle(11))
    assert answer.status_code == 201, answer.text
    created: dict[str, str] = answer.json()["ticket"]
    return created


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        ("/tickets?cursor=99999999999999999999", str(MAX_INT)),
        (f"/tickets?cursor={MAX_INT + 1}", str(MAX_INT)),
        ("/files/99999999999999999999", str(MAX_INT)),
        (f"/changes?after={MAX_INT + 1}", str(MAX_INT)),
        ("/changes?after=" + "9" * 5000, ""),
        ("/tickets/SD-99999999999999999999/queue", "SD-999999999999"),
        ("/tickets/SD-99999999999999999999/files/steps/001.png", "SD-999999999999"),
        ("/tickets?since=0001-01-01T00:00:00%2B14:00", "1970-01-01"),
        ("/stats?until=9999-12-31T23:59:59-23:59", "9999-12-30"),
    ],
)
def test_numbers_and_moments_out_of_range_are_422_naming_the_bound(
    edge_server: ServerProcess, path: str, bound: str
) -> None:
    admin = edge_server.token("admin")

    answer = api(edge_server, admin, "GET", path)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"detail"}
    assert bound in answer.json()["detail"]


def test_largest_ids_in_range_are_plain_not_found(edge_server: ServerProcess) -> None:
    admin = edge_server.token("admin")

    assert api(edge_server, admin, "GET", f"/files/{MAX_INT}").status_code == 404
    assert api(edge_server, admin, "GET", "/tickets/SD-999999999999").status_code == 404
    # Digits that str.isdigit() accepts and int() does not.
    assert api(edge_server, admin, "GET", "/files/²³").status_code == 404
    assert api(edge_server, admin, "GET", "/tickets", params={"cursor": "²"}).status_code == 422
    assert api(edge_server, admin, "GET", "/changes", params={"after": MAX_INT}).status_code == 200


@pytest.mark.parametrize(
    ("body", "bound"),
    [
        (b'{"status": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "the bound is 32"),
        (b'{"status": "open", "x": ' + b"9" * 5000 + b"}", str(MAX_INT)),
        (b'{"status": "open", "x": ' + str(MAX_INT + 1).encode() + b"}", str(MAX_INT)),
        (b'{"status": "open"', "not valid JSON"),
        (b'{"status": "open", "bad": "\xff"}', "not UTF-8"),
    ],
)
def test_json_bodies_out_of_bounds_are_422_and_change_nothing(
    edge_server: ServerProcess, ticket: dict[str, str], body: bytes, bound: str
) -> None:
    technician = edge_server.token("technician")
    headers = {"Content-Type": "application/json"}
    timeline_before = api(edge_server, technician, "GET", f"/tickets/{ticket['id']}").json()["timeline"]

    answers = [
        api(edge_server, technician, "POST", f"/tickets/{ticket['id']}/status", data=body, headers=dict(headers)),
        api(edge_server, technician, "POST", f"/tickets/{ticket['id']}/notes", data=body, headers=dict(headers)),
        api(edge_server, edge_server.token("admin"), "POST", "/tokens", data=body, headers=dict(headers)),
    ]

    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert set(answer.json()) == {"detail"}
        assert bound in answer.json()["detail"]
    assert api(edge_server, technician, "GET", f"/tickets/{ticket['id']}").json()["timeline"] == timeline_before


def test_the_openapi_document_declares_what_the_server_answers(edge_server: ServerProcess) -> None:
    document = requests.get(f"{edge_server.url}/openapi.json", timeout=10).json()
    operations = {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    submit_call = operations[("POST", "/api/v1/reports")]
    key = next(p for p in submit_call["parameters"] if p["name"].lower() == "idempotency-key")

    assert key["required"] is True
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error_ref = "#/components/schemas/ErrorBody"
    for (method, path), operation in operations.items():
        if not path.startswith("/api/v1/"):
            continue
        for status in ("400", "401", "413", "422", "503", "507"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": error_ref}, (method, path, status)
    for method, path in [("POST", "/api/v1/reports"), ("POST", "/api/v1/tickets/{ticket_id}/notes")]:
        assert "429" in operations[(method, path)]["responses"]
    for method, path in [("GET", "/api/v1/tokens"), ("POST", "/api/v1/tickets/{ticket_id}/status")]:
        assert "403" in operations[(method, path)]["responses"]


def test_a_missing_idempotency_key_is_422_naming_the_header(edge_server: ServerProcess) -> None:
    answer = submit(edge_server, edge_server.token("submitter"), make_bundle(12), key=None)

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("the Idempotency-Key header:")


# ---------------------------------------------------------------- a full disk
def _can_mount_a_private_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt || mount -t tmpfs none /tmp"],
        capture_output=True,
        timeout=10,
    )
    return probe.returncode == 0


class TinyDiskServer(ServerProcess):
    """The real server with its data directory on a tmpfs of ``size`` that only it sees.

    ``unshare -rm`` gives the process its own mount namespace (no root needed where user
    namespaces are allowed); the network is shared, so it still listens on loopback. Tokens
    come from the hand-over file, since the command line outside sees none of its files.
    """

    def __init__(self, data_dir: Path, size: str) -> None:
        super().__init__(data_dir)
        self.size = size

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        mount = f'mount -t tmpfs -o size={self.size},mode=0700 showdesk-test "$0" && exec "$@"'
        return ["unshare", "-rm", "sh", "-c", mount, str(self.data_dir), *super().command()]


@pytest.mark.skipif(not _can_mount_a_private_tmpfs(), reason="needs unshare and user namespaces for a private tmpfs")
def test_a_full_disk_is_507_with_a_clear_message_and_nothing_stored(tmp_path: Path) -> None:
    server = TinyDiskServer(tmp_path / "data", size="3m")
    server.start()
    try:
        token = server.handover()["tokens"]["submitter"]
        technician = server.handover()["tokens"]["technician"]
        picture = noisy_png(1400, 1000, seed=3)  # about 4 MB: more than the disk holds
        assert len(picture) > 3 * 1024 * 1024

        full = submit(server, token, make_bundle(21, images=[picture]))
        listed = api(server, technician, "GET", "/tickets").json()["tickets"]
        after = submit(server, token, make_bundle(22, images=[png_bytes(seed=22)]))

        assert full.status_code == 507, full.text
        assert set(full.json()) == {"detail"}
        assert "disk is full" in full.json()["detail"]
        assert listed == []
        # The refused upload's temporary file went with it: a small report fits again.
        assert after.status_code == 201, after.text
        assert "the disk is full" in server.log_text()
        assert "Traceback" not in server.log_text()
    finally:
        server.stop()
