"""Hostile and broken uploads: each answered with the documented status, and nothing stored."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator

import pytest

from agent.schema import MAX_DESCRIPTION_CHARS, MAX_STEPS, SCHEMA_VERSION
from tests.fixtures.server import ServerProcess, database_for
from tests.server.helpers import Upload, make_bundle, noisy_png, png_bytes, png_header_only, stored_state, submit


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    # A 2 MiB body cap keeps the over-the-limit uploads small and quick.
    server = ServerProcess(
        tmp_path_factory.mktemp("hostile") / "data",
        extra_args=["--max-body-mb", "2"],
        database=database_for(server_engine, request),
    )
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def submitter(hostile_server: ServerProcess) -> str:
    return hostile_server.token("submitter")


def _base() -> Upload:
    return Upload.of(make_bundle(7, steps=2))


def _svg_as_png(base: Upload) -> Upload:
    return base.replace_file(
        "steps/001.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    )


def _html_as_png(base: Upload) -> Upload:
    return base.replace_file("steps/001.png", b"<!doctype html><html><script>alert(1)</script></html>")


def _truncated_png(base: Upload) -> Upload:
    picture = png_bytes(200, 150, seed=5)
    return base.replace_file("steps/001.png", picture[: len(picture) * 2 // 3])


def _huge_png(base: Upload) -> Upload:
    upload = base.replace_file("steps/001.png", png_header_only(30_000, 30_000))
    manifest = upload.manifest_json()
    manifest["steps"][0]["width"] = manifest["steps"][0]["height"] = 30_000
    return upload.with_manifest(manifest)


def _jpeg_claimed_as_png(base: Upload) -> Upload:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (20, 20), "red").save(buffer, "JPEG")
    return base.replace_file("steps/001.png", buffer.getvalue())


def _traversal_name(base: Upload) -> Upload:
    upload = base.copy()
    upload.files["../../etc/passwd"] = upload.files.pop("steps/001.png")
    return upload


def _traversal_in_manifest(base: Upload) -> Upload:
    upload = base.copy()
    manifest = upload.manifest_json()
    manifest["steps"][0]["image"]["path"] = "../steps/001.png"
    upload.files["../steps/001.png"] = upload.files.pop("steps/001.png")
    return upload.with_manifest(manifest)


def _malformed_json(base: Upload) -> Upload:
    upload = base.copy()
    return Upload(upload.report_id, b'{"schema_version": 1, "id": ', upload.files, upload.media_types)


def _unknown_version(base: Upload) -> Upload:
    upload = base.copy()
    return upload.with_manifest({**upload.manifest_json(), "schema_version": SCHEMA_VERSION + 1})


def _unknown_field(base: Upload) -> Upload:
    upload = base.copy()
    return upload.with_manifest({**upload.manifest_json(), "priority": "urgent"})


def _digest_mismatch(base: Upload) -> Upload:
    altered = bytearray(base.files["steps/002.png"])
    altered[len(altered) // 2] ^= 0xFF  # same size, other bytes: only the digest tells
    return base.replace_file("steps/002.png", bytes(altered), fix_manifest=False)


def _size_mismatch(base: Upload) -> Upload:
    return base.replace_file("steps/002.png", base.files["steps/002.png"] + b"\0", fix_manifest=False)


def _missing_file(base: Upload) -> Upload:
    upload = base.copy()
    del upload.files["steps/002.png"]
    return upload


def _extra_file(base: Upload) -> Upload:
    upload = base.copy()
    upload.files["attachments/001.txt"] = b"not in the manifest"
    return upload


def _too_many_steps(base: Upload) -> Upload:
    upload = base.copy()
    manifest = upload.manifest_json()
    manifest["steps"] = [manifest["steps"][0]] * (MAX_STEPS + 1)
    return upload.with_manifest(manifest)


def _description_too_long(base: Upload) -> Upload:
    upload = base.copy()
    return upload.with_manifest({**upload.manifest_json(), "description": "x" * (MAX_DESCRIPTION_CHARS + 1)})


def _sysinfo_not_json(base: Upload) -> Upload:
    return base.replace_file("sysinfo.json", b"\x00\x01 not json")


def _walk_up_without_site(base: Upload) -> Upload:
    upload = base.copy()
    return upload.with_manifest({**upload.manifest_json(), "walk_up": True})


def _manifest_not_an_object(base: Upload) -> Upload:
    upload = base.copy()
    return Upload(upload.report_id, b"[1, 2, 3]", upload.files, upload.media_types)


def _over_the_body_limit(base: Upload) -> Upload:
    # 1000×800 random pixels ≈ 2.4 MB, over the 2 MiB cap of this server.
    return base.replace_file("steps/001.png", noisy_png(1000, 800, seed=3))


HOSTILE: dict[str, tuple[Callable[[Upload], Upload], int, str]] = {
    "svg renamed .png": (_svg_as_png, 422, "not a PNG, JPEG or WebP"),
    "html renamed .png": (_html_as_png, 422, "not a PNG, JPEG or WebP"),
    "jpeg claimed as png": (_jpeg_claimed_as_png, 422, "its content is image/jpeg"),
    "truncated png": (_truncated_png, 422, "truncated or corrupt"),
    "30000x30000 png": (_huge_png, 422, "the limit is 50,000,000 pixels"),
    "../ file name": (_traversal_name, 422, "not named in the manifest"),
    "../ path in manifest": (_traversal_in_manifest, 422, "is not one ShowDesk writes"),
    "malformed json": (_malformed_json, 422, "not valid JSON"),
    "manifest not an object": (_manifest_not_an_object, 422, "JSON object"),
    "unknown schema version": (_unknown_version, 422, "unknown schema version"),
    "unknown field": (_unknown_field, 422, "priority"),
    "digest mismatch": (_digest_mismatch, 422, "does not match its sha256"),
    "size mismatch": (_size_mismatch, 422, "the manifest says"),
    "missing file": (_missing_file, 422, "missing: steps/002.png"),
    "extra file": (_extra_file, 422, "not named in the manifest"),
    "too many steps": (_too_many_steps, 422, f"at most {MAX_STEPS}"),
    "description too long": (_description_too_long, 422, f"at most {MAX_DESCRIPTION_CHARS}"),
    "sysinfo not json": (_sysinfo_not_json, 422, "sysinfo.json is not valid JSON"),
    "walk-up without site": (_walk_up_without_site, 422, "source.site"),
    "body over the limit": (_over_the_body_limit, 413, "over the limit of 2097152 bytes"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_upload_is_refused_and_nothing_is_stored(
    case: str, hostile_server: ServerProcess, submitter: str
) -> None:
    build, status, message = HOSTILE[case]
    good = _base()
    before = stored_state(hostile_server)

    response = submit(hostile_server, submitter, build(good))

    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert stored_state(hostile_server) == before
    # Nothing half-made blocks the report: the same id with a good body makes its ticket.
    assert submit(hostile_server, submitter, good).status_code == 201


def test_oversized_content_length_is_refused_before_the_body_is_sent(
    hostile_server: ServerProcess, submitter: str
) -> None:
    before = stored_state(hostile_server)
    connection = http.client.HTTPConnection(hostile_server.host, hostile_server.port, timeout=10)
    try:
        # Headers only: the answer must come without the server waiting for 3 GB that never arrive.
        connection.putrequest("POST", "/api/v1/reports")
        connection.putheader("Authorization", f"Bearer {submitter}")
        connection.putheader("Content-Type", "multipart/form-data; boundary=x")
        connection.putheader("Idempotency-Key", "00000000-0000-4000-8000-000000000000")
        connection.putheader("Content-Length", str(3 * 1024**3))
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()

    assert response.status == 413
    assert "over the limit of 2097152 bytes" in body["detail"]
    assert stored_state(hostile_server) == before
    # The access line has only the status; the admin's log says why.
    assert "refused (413): " in hostile_server.log_text()
    assert "over the limit of 2097152 bytes" in hostile_server.log_text()


def test_chunked_body_is_cut_off_at_the_limit(hostile_server: ServerProcess, submitter: str) -> None:
    upload = _over_the_body_limit(_base())
    body, content_type = upload.encode()
    before = stored_state(hostile_server)
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for start in range(0, len(body), 64 * 1024):
            sent += 64 * 1024
            yield body[start : start + 64 * 1024]

    connection = http.client.HTTPConnection(hostile_server.host, hostile_server.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/api/v1/reports",
            body=chunks(),
            headers={
                "Authorization": f"Bearer {submitter}",
                "Content-Type": content_type,
                "Idempotency-Key": upload.report_id,
            },
            encode_chunked=True,
        )
        response = connection.getresponse()
        detail = json.loads(response.read())["detail"]
    finally:
        connection.close()

    assert response.status == 413
    assert "over the limit" in detail
    assert stored_state(hostile_server) == before


def test_not_multipart_is_415(hostile_server: ServerProcess, submitter: str) -> None:
    import requests

    response = requests.post(
        f"{hostile_server.api}/reports",
        data=b'{"a": 1}',
        headers={"Authorization": f"Bearer {submitter}", "Content-Type": "application/json", "Idempotency-Key": "x"},
        timeout=10,
    )
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


def test_unexpected_part_is_refused(hostile_server: ServerProcess, submitter: str) -> None:
    import requests
    from urllib3 import encode_multipart_formdata

    upload = _base()
    body, content_type = encode_multipart_formdata(
        [("manifest", ("manifest.json", upload.manifest, "application/json")), ("evil", ("x", b"y", "text/plain"))]
    )
    before = stored_state(hostile_server)
    response = requests.post(
        f"{hostile_server.api}/reports",
        data=body,
        headers={
            "Authorization": f"Bearer {submitter}",
            "Content-Type": content_type,
            "Idempotency-Key": upload.report_id,
        },
        timeout=10,
    )
    assert response.status_code == 422
    assert "unexpected part 'evil'" in response.json()["detail"]
    assert stored_state(hostile_server) == before


def test_json_call_with_bad_body_names_the_field(hostile_server: ServerProcess) -> None:
    import requests

    technician = hostile_server.token("technician")
    ticket = submit(hostile_server, hostile_server.token("submitter"), make_bundle(9)).json()["ticket"]

    response = requests.post(
        f"{hostile_server.api}/tickets/{ticket['id']}/status",
        json={"status": "on-fire"},
        headers={"Authorization": f"Bearer {technician}"},
        timeout=10,
    )
    malformed = requests.post(
        f"{hostile_server.api}/tickets/{ticket['id']}/status",
        data=b"{not json",
        headers={"Authorization": f"Bearer {technician}", "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 422
    assert response.json()["detail"].startswith("status:")
    assert malformed.status_code == 422
    assert isinstance(malformed.json()["detail"], str)
