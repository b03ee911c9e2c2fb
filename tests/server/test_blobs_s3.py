"""The two places for attachment files behave alike: the local directory and an S3-compatible store.

The S3 side speaks real HTTP to moto's server (the stand-in for SeaweedFS, Garage, Ceph RGW or
AWS S3; see tests/fixtures/s3.py). What is checked is what the server relies on: ``commit``
stores whole files under their content address and drops the upload's temporary file, the same
bytes twice are one object, reads give back the bytes, and a store that cannot be reached or has
no such bucket gives one plain error naming the store and what to check.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.blobs import BlobBackend, BlobStore, BlobStoreUnavailableError
from server.blobs_s3 import S3BlobStore, S3Credentials, S3Location, make_client
from tests.fixtures.s3 import S3Endpoint
from tests.fixtures.server import free_port


def _location(endpoint: str, bucket: str, prefix: str = "blobs") -> S3Location:
    return S3Location.parse(f"s3://{bucket}/{prefix}?endpoint={endpoint}")


@pytest.fixture(params=["directory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobBackend]:
    store: BlobBackend
    if request.param == "directory":
        store = BlobStore(tmp_path)
    else:
        s3: S3Endpoint = request.getfixturevalue("s3_server")
        for name, value in s3.environment().items():
            os.environ[name] = value  # the autouse fixture in tests/conftest.py restores the environment
        store = S3BlobStore(tmp_path, _location(s3.url, s3.new_bucket()))
    try:
        store.check()
        yield store
    finally:
        store.close()


def _upload(store: BlobBackend, payload: bytes) -> tuple[Path, str]:
    fd, temp = store.new_temp()
    with os.fdopen(fd, "wb") as file:
        file.write(payload)
    return temp, hashlib.sha256(payload).hexdigest()


def test_committed_files_are_stored_whole_under_their_digest(backend: BlobBackend) -> None:
    payloads = [os.urandom(300_000), b"{}", bytes(range(256)) * 1000]
    uploads = [_upload(backend, payload) for payload in payloads]
    backend.commit(uploads)
    for (temp, digest), payload in zip(uploads, payloads, strict=True):
        assert not temp.exists(), "the upload's temporary file is dropped once stored"
        assert backend.exists(digest)
        assert backend.size(digest) == len(payload)
        assert backend.read_bytes(digest) == payload
        assert b"".join(backend.read_chunks(digest, chunk_size=4096)) == payload
    assert sorted(backend.digests()) == sorted(digest for _, digest in uploads)


def test_the_same_bytes_twice_are_one_file(backend: BlobBackend) -> None:
    payload = os.urandom(10_000)
    first, digest = _upload(backend, payload)
    backend.commit([(first, digest)])
    second, again = _upload(backend, payload)
    backend.commit([(second, again)])
    assert not second.exists()
    assert list(backend.digests()) == [digest]
    assert backend.read_bytes(digest) == payload


def test_removed_files_are_gone_and_reading_them_says_so(backend: BlobBackend) -> None:
    temp, digest = _upload(backend, b"to be removed")
    backend.commit([(temp, digest)])
    backend.remove(digest)
    assert not backend.exists(digest)
    assert backend.size(digest) is None
    with pytest.raises(FileNotFoundError):
        b"".join(backend.read_chunks(digest))


def test_uploads_a_crash_left_behind_are_removed(backend: BlobBackend) -> None:
    left = [_upload(backend, b"half an upload")[0] for _ in range(3)]
    assert backend.remove_stale_temps() == 3
    assert not any(path.exists() for path in left)


def _store(tmp_path: Path, location: S3Location) -> S3BlobStore:
    """A store with explicit dummy keys (moto takes any), so the test needs no environment."""
    return S3BlobStore(tmp_path, location, make_client(location, S3Credentials("x", "y")))


def test_only_content_addressed_objects_under_the_prefix_are_ours(s3_server: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    ours = _store(tmp_path, _location(s3_server.url, bucket, "site-a"))
    theirs = _store(tmp_path, _location(s3_server.url, bucket, "site-b"))
    try:
        temp, digest = _upload(ours, b"site a's file")
        ours.commit([(temp, digest)])
        other, other_digest = _upload(theirs, b"site b's file")
        theirs.commit([(other, other_digest)])
        ours._client.put_object(Bucket=bucket, Key="site-a/notes.txt", Body=b"not a blob")
        assert list(ours.digests()) == [digest]
        assert list(theirs.digests()) == [other_digest]
        stored = ours._client.head_object(Bucket=bucket, Key=f"site-a/{digest[:2]}/{digest}")
        assert stored["Metadata"] == {"sha256": digest}
    finally:
        ours.close()
        theirs.close()


def test_a_store_that_cannot_be_reached_gives_one_plain_error(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    store = _store(tmp_path, _location(dead, "showdesk"))
    try:
        with pytest.raises(BlobStoreUnavailableError) as failure:
            store.check()
        message = str(failure.value)
        assert "could not be reached" in message and dead in message and "'showdesk'" in message
        temp, digest = _upload(store, b"report")
        with pytest.raises(BlobStoreUnavailableError, match="nothing was stored"):
            store.commit([(temp, digest)])
        assert temp.exists(), "a failed commit leaves the upload for the caller to retry or remove"
    finally:
        store.close()


def test_a_missing_bucket_is_named_with_what_to_do(s3_server: S3Endpoint, tmp_path: Path) -> None:
    store = _store(tmp_path, _location(s3_server.url, "no-such-bucket-here"))
    try:
        with pytest.raises(BlobStoreUnavailableError, match="bucket does not exist"):
            store.check()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://bucket/prefix", "starts with s3://"),
        ("s3://key:secret@bucket/prefix", "carries no credentials"),
        ("s3://Bad_Bucket/prefix", "not a bucket name"),
        ("s3://bucket/prefix?endpont=http://x", "unknown option"),
        ("s3://bucket/prefix?endpoint=ftp://x", "http:// or https://"),
        ("s3://bucket/prefix?addressing=sideways", "addressing is path, virtual or auto"),
    ],
)
def test_a_wrong_location_is_refused_naming_the_mistake(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        S3Location.parse(url)


def test_a_location_gives_keys_under_its_prefix_and_defaults() -> None:
    location = S3Location.parse("s3://tickets/showdesk/prod/?endpoint=https://store.example:9000")
    digest = hashlib.sha256(b"x").hexdigest()
    assert location.key_for(digest) == f"showdesk/prod/{digest[:2]}/{digest}"
    assert (location.region, location.addressing) == ("us-east-1", "path")
    assert S3Location.parse("s3://tickets").addressing == "auto"
    with pytest.raises(ValueError, match="not a sha256"):
        location.key_for("../../etc/passwd")


def test_credentials_come_from_the_environment_and_never_show() -> None:
    os.environ["SHOWDESK_S3_ACCESS_KEY_ID"] = "AKIDEXAMPLE"
    os.environ["SHOWDESK_S3_SECRET_ACCESS_KEY"] = "very-secret-value"
    credentials = S3Credentials.lookup()
    assert credentials == S3Credentials("AKIDEXAMPLE", "very-secret-value")
    assert "very-secret-value" not in repr(credentials) and "AKIDEXAMPLE" not in repr(credentials)
