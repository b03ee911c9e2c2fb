"""The two places for attachment files behave alike: the local directory and an S3-compatible store.

The S3 side speaks real HTTP to moto's server (the stand-in for SeaweedFS, Garage, Ceph RGW or
AWS S3; see tests/fixtures/s3.py). What is checked is what the server relies on: ``commit``
stores whole files under their content address and drops the upload's temporary file, the same
bytes twice are one object, reads give back the bytes, and a store that cannot be reached or has
no such bucket gives one plain error naming the store and what to check; committing bytes that
are already stored makes them young again in the eyes of retention's orphan sweep.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.blobs import BlobBackend, BlobStore, BlobStoreUnavailableError
from server.blobs_s3 import REFRESH_AFTER_SECONDS, S3BlobStore, S3Credentials, S3Location, make_client
from server.retention import _StoredTimes
from tests.fixtures.s3 import S3Endpoint
from tests.fixtures.server import free_port
from tests.fixtures.waiting import wait_until

TWO_HOURS = 2 * 3600.0


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


def _stored_at(store: BlobBackend, digest: str) -> float:
    """When the bytes were stored, as retention's orphan sweep judges it (mtime, Last-Modified)."""
    with _StoredTimes(store) as times:
        found = times.lookup(digest)
    assert found is not None, f"{digest} is not stored"
    return found[1]


def _age_past_refresh(store: BlobBackend, digest: str) -> None:
    """Make stored bytes older than their store refreshes on a repeated commit.

    A file is backdated two hours. An object store (moto) cannot backdate an object, so its
    store is told to refresh anything older than 0 seconds, and the clock is let pass the
    second of its Last-Modified (S3 states times to the second) so that a refresh shows.
    """
    if isinstance(store, BlobStore):
        then = time.time() - TWO_HOURS
        os.utime(store.path_for(digest), (then, then))
        return
    assert isinstance(store, S3BlobStore)
    store.refresh_after = 0.0
    stored = _stored_at(store, digest)
    wait_until(lambda: time.time() >= stored + 1.0, "the clock past the object's second", 5)


def test_committing_stored_bytes_again_makes_them_young_again(backend: BlobBackend) -> None:
    payload = os.urandom(20_000)
    first, digest = _upload(backend, payload)
    backend.commit([(first, digest)])
    _age_past_refresh(backend, digest)
    old = _stored_at(backend, digest)
    # Whole seconds: S3's Last-Modified is truncated, the file system's clock is coarse.
    resubmitted_at = int(time.time())
    second, again = _upload(backend, payload)
    backend.commit([(second, again)])
    assert not second.exists(), "the repeated upload's temporary file is dropped"
    young = _stored_at(backend, digest)
    assert young > old and young >= resubmitted_at
    assert list(backend.digests()) == [digest]
    assert backend.read_bytes(digest) == payload


def _s3_store(s3_server: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3BlobStore:
    """A store in a fresh bucket, with the keys in the environment (retention's look-ups read them there)."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return _store(tmp_path, _location(s3_server.url, s3_server.new_bucket()))


def test_a_young_object_is_not_stored_again(
    s3_server: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file's time is refreshed at every commit (one system call); an object's costs a request.
    store = _s3_store(s3_server, tmp_path, monkeypatch)
    try:
        assert store.refresh_after == REFRESH_AFTER_SECONDS
        payload = os.urandom(5_000)
        first, digest = _upload(store, payload)
        store.commit([(first, digest)])
        stored = _stored_at(store, digest)
        wait_until(lambda: time.time() >= stored + 1.0, "the clock past the object's second", 5)
        second, _ = _upload(store, payload)
        store.commit([(second, digest)])
        assert not second.exists()
        assert _stored_at(store, digest) == stored, "an object stored a moment ago is not copied again"
    finally:
        store.close()


def test_a_refreshed_object_keeps_its_digest_metadata(
    s3_server: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _s3_store(s3_server, tmp_path, monkeypatch)
    try:
        payload = b"a screenshot sent again after a crash " * 100
        first, digest = _upload(store, payload)
        store.commit([(first, digest)])
        _age_past_refresh(store, digest)
        second, _ = _upload(store, payload)
        store.commit([(second, digest)])
        head = store._client.head_object(Bucket=store.location.bucket, Key=store.location.key_for(digest))
        assert head["Metadata"] == {"sha256": digest}
        assert head["ContentLength"] == len(payload)
    finally:
        store.close()


def test_an_object_removed_while_it_is_refreshed_is_stored_again(
    s3_server: S3Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _s3_store(s3_server, tmp_path, monkeypatch)
    try:
        payload = os.urandom(8_000)
        first, digest = _upload(store, payload)
        store.commit([(first, digest)])
        store.refresh_after = 0.0
        wait_until(lambda: time.time() > _stored_at(store, digest), "the object older than 0 seconds", 5)
        looked_up = store._head

        def removed_after_the_look_up(sha256: str) -> dict[str, object] | None:
            head = looked_up(sha256)
            store.remove(sha256)  # a retention run between the look-up and the refresh
            return head

        monkeypatch.setattr(store, "_head", removed_after_the_look_up)
        second, _ = _upload(store, payload)
        store.commit([(second, digest)])
        monkeypatch.undo()
        assert not second.exists()
        assert store.read_bytes(digest) == payload
    finally:
        store.close()


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
