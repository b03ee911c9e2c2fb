"""Attachment files in an S3-compatible object store, stored by content (sha256).

For a site that runs its own object store (SeaweedFS, Garage, Ceph RGW, MinIO-compatible
services, AWS S3) instead of keeping files on the server's disk. The rules of the local store
(``server.blobs``) hold here too:

- Uploads stream into a local temporary file first (the server must check every byte against
  its digest and its image structure before anything is stored), then ``commit`` puts each
  object and returns only when the store has acknowledged it. The caller commits the database
  row after that, so a crash leaves at worst an unreferenced object, never a row whose file is
  missing. An object is written whole by one PUT or not at all: S3 has no half-written objects.
- Keys are content addresses, ``<prefix><ab>/<sha256>``: the same screenshot twice is one object,
  and an overwrite (two servers storing the same bytes at once) is harmless.
- Downloads go through the server (``read_chunks``), never through presigned URLs: a presigned
  URL is a bearer link that outlives a revoked token or requester link for its whole lifetime,
  and the object store is often not reachable from the phones and laptops the server serves.

Credentials come from the environment or the OS keyring, never from the configuration file
(see ``S3Credentials.lookup``). Every call is bounded in time (connect and read timeouts, a
fixed number of attempts); a store that cannot be reached raises ``BlobStoreUnavailableError``
naming the endpoint and bucket and what to check, never a raw client exception.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from agent.fsutil import make_private_dir
from server.blobs import BlobStoreUnavailableError, discard, new_upload_temp, remove_files_in

_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
# S3 bucket names: 3–63 lower-case letters, digits, dots and hyphens (the rules common to all stores).
_BUCKET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
CONNECT_TIMEOUT_SECONDS: Final = 5
READ_TIMEOUT_SECONDS: Final = 30
ATTEMPTS: Final = 3
READ_CHUNK_BYTES: Final = 256 * 1024
# An object stored longer ago than this is stored again (copied onto itself) when the same bytes
# are committed, so that its Last-Modified says "just stored": retention sweeps unnamed objects
# older than its grace period (10 minutes at least), and bytes resubmitted after a crash left them
# unnamed must not look old while the row that names them commits. Half the shortest grace leaves
# a wide margin; younger objects are left alone, which spares a request per repeated upload.
REFRESH_AFTER_SECONDS: Final = 5 * 60
KEYRING_SERVICE: Final = "showdesk-server"
KEYRING_ACCESS_KEY: Final = "s3-access-key-id"
KEYRING_SECRET_KEY: Final = "s3-secret-access-key"  # noqa: S105 - the keyring entry's name, not a secret


@dataclass(frozen=True)
class S3Location:
    """Where the objects live: ``s3://bucket/prefix?endpoint=https://host:port&region=…&addressing=path``."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str
    addressing: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise ValueError(f"an object store location starts with s3://, not {url!r}")
        if parts.username or parts.password:
            raise ValueError("an object store location carries no credentials: set them in the environment or keyring")
        bucket = parts.hostname or ""
        if not _BUCKET_RE.match(bucket):
            raise ValueError(f"{bucket!r} is not a bucket name (3–63 lower-case letters, digits, dots, hyphens)")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"endpoint", "region", "addressing"}
        if unknown:
            raise ValueError(f"unknown option(s) in the object store location: {', '.join(sorted(unknown))}")
        endpoint = query.get("endpoint", [""])[-1] or None
        if endpoint is not None and urlsplit(endpoint).scheme not in {"http", "https"}:
            raise ValueError(f"the object store endpoint must be an http:// or https:// URL, not {endpoint!r}")
        addressing = query.get("addressing", ["path" if endpoint else "auto"])[-1]
        if addressing not in {"path", "virtual", "auto"}:
            raise ValueError(f"addressing is path, virtual or auto, not {addressing!r}")
        prefix = parts.path.strip("/")
        return cls(
            bucket=bucket,
            prefix=f"{prefix}/" if prefix else "",
            endpoint=endpoint,
            region=query.get("region", ["us-east-1"])[-1] or "us-east-1",
            addressing=addressing,
        )

    def key_for(self, sha256: str) -> str:
        if not _SHA256_RE.match(sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def describe(self) -> str:
        where = self.endpoint or "AWS S3"
        return f"bucket {self.bucket!r} at {where}"


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never in a log or traceback
        return "S3Credentials(<hidden>)"

    @classmethod
    def lookup(cls) -> S3Credentials | None:
        """The store's keys: ``SHOWDESK_S3_ACCESS_KEY_ID``/``…_SECRET_ACCESS_KEY``, else the keyring.

        None lets the S3 client find them the standard way (``AWS_*`` variables, an instance role).
        """
        key_id = os.environ.get("SHOWDESK_S3_ACCESS_KEY_ID", "")
        secret = os.environ.get("SHOWDESK_S3_SECRET_ACCESS_KEY", "")
        if key_id and secret:
            return cls(key_id, secret)
        with contextlib.suppress(Exception):  # no keyring backend on a headless server is normal
            import keyring  # only servers configured for S3 need it

            key_id = keyring.get_password(KEYRING_SERVICE, KEYRING_ACCESS_KEY) or ""
            secret = keyring.get_password(KEYRING_SERVICE, KEYRING_SECRET_KEY) or ""
            if key_id and secret:
                return cls(key_id, secret)
        return None


def make_client(location: S3Location, credentials: S3Credentials | None) -> Any:
    """A bounded S3 client for ``location``."""
    import boto3  # the embedded default never loads the S3 client
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": location.addressing},
        # Checksums only where S3 requires them: many S3-compatible stores refuse the
        # newer default trailing checksums. Integrity is ours: the sha256 is the key.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=16,
    )
    keys: dict[str, str] = {}
    if credentials is not None:
        keys = {"aws_access_key_id": credentials.access_key_id, "aws_secret_access_key": credentials.secret_access_key}
    return boto3.session.Session().client(
        "s3", endpoint_url=location.endpoint, region_name=location.region, config=config, **keys
    )


class S3BlobStore:
    """Content-addressed objects in one bucket (under a prefix), with the local store's interface."""

    def __init__(
        self,
        data_dir: Path,
        location: S3Location,
        client: Any = None,
        *,
        refresh_after: float = REFRESH_AFTER_SECONDS,
    ) -> None:
        self.location = location
        self.refresh_after = refresh_after
        self.tmp = data_dir / "tmp"
        make_private_dir(self.tmp)
        self._client = client if client is not None else make_client(location, S3Credentials.lookup())

    def describe(self) -> str:
        return f"the object store ({self.location.describe()})"

    def check(self) -> None:
        """Fail at start, with what to fix, when the bucket cannot be reached or used."""
        with self._errors("checking the bucket"):
            self._client.head_bucket(Bucket=self.location.bucket)

    def new_temp(self) -> tuple[int, Path]:
        return new_upload_temp(self.tmp)

    def commit(self, items: Sequence[tuple[Path, str]]) -> None:
        """Put each verified temporary file as the object for its sha256, then drop the temporary file.

        Returns only when the store has acknowledged every object (then the caller commits its
        rows). An object that already exists is kept and its temporary file dropped; when it was
        stored more than ``refresh_after`` seconds ago it is first made young again (see
        ``REFRESH_AFTER_SECONDS``).
        """
        for temp, sha256 in items:
            key = self.location.key_for(sha256)
            head = self._head(sha256)
            if head is not None and self._kept_young(key, sha256, head):
                discard(temp)
                continue
            size = temp.stat().st_size
            with self._errors(f"storing {sha256[:12]}…"), temp.open("rb") as body:
                # One PUT streams from the file: memory stays at the client's buffer, whatever the size.
                self._client.put_object(
                    Bucket=self.location.bucket,
                    Key=key,
                    Body=body,
                    ContentLength=size,
                    ContentType="application/octet-stream",
                    Metadata={"sha256": sha256},
                )
            discard(temp)

    def _kept_young(self, key: str, sha256: str, head: dict[str, Any]) -> bool:
        """Refresh a stored object's Last-Modified when it is old; False when it vanished meanwhile."""
        if time.time() - head["LastModified"].timestamp() <= self.refresh_after:
            return True
        with self._errors(f"refreshing {sha256[:12]}…"):
            try:
                # S3 refuses to copy an object onto itself unchanged; replacing its metadata (with
                # the same digest) is the accepted way to store it again, without sending its bytes.
                self._client.copy_object(
                    Bucket=self.location.bucket,
                    Key=key,
                    CopySource={"Bucket": self.location.bucket, "Key": key},
                    MetadataDirective="REPLACE",
                    ContentType="application/octet-stream",
                    Metadata={"sha256": sha256},
                )
            except Exception as exc:
                if _is_not_found(exc):
                    return False  # removed since the look-up (a retention run): put it again
                raise
        return True

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int | None:
        head = self._head(sha256)
        return None if head is None else int(head["ContentLength"])

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.read_chunks(sha256))

    def read_chunks(self, sha256: str, chunk_size: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
        """The object's bytes in chunks; ``FileNotFoundError`` when it is not stored."""
        with self._errors(f"reading {sha256[:12]}…"):
            try:
                answer = self._client.get_object(Bucket=self.location.bucket, Key=self.location.key_for(sha256))
            except Exception as exc:
                if _is_not_found(exc):
                    raise FileNotFoundError(f"no stored object for {sha256}") from exc
                raise
        body = answer["Body"]
        try:
            while True:
                with self._errors(f"reading {sha256[:12]}…"):
                    chunk = body.read(chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def remove(self, sha256: str) -> None:
        with self._errors(f"removing {sha256[:12]}…"):
            self._client.delete_object(Bucket=self.location.bucket, Key=self.location.key_for(sha256))

    def digests(self) -> Iterator[str]:
        """Every stored object's sha256 (for backups, migration and retention)."""
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors("listing the stored objects"):
            for page in paginator.paginate(Bucket=self.location.bucket, Prefix=self.location.prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"]).rsplit("/", 1)[-1]
                    if _SHA256_RE.match(name) and item["Key"] == self.location.key_for(name):
                        yield name

    def remove_stale_temps(self) -> int:
        return remove_files_in(self.tmp)

    def close(self) -> None:
        self._client.close()

    def _head(self, sha256: str) -> dict[str, Any] | None:
        with self._errors(f"looking up {sha256[:12]}…"):
            try:
                head: dict[str, Any] = self._client.head_object(
                    Bucket=self.location.bucket, Key=self.location.key_for(sha256)
                )
            except Exception as exc:
                if _is_not_found(exc):
                    return None
                raise
        return head

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn the client's exceptions into one error in plain words naming the store and what to check."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            raise BlobStoreUnavailableError(f"{self.describe()} refused {doing}: {_client_error_words(exc)}") from exc
        except BotoCoreError as exc:
            raise BlobStoreUnavailableError(
                f"{self.describe()} could not be reached while {doing} ({type(exc).__name__}): check the endpoint "
                "and the network between the server and the store; nothing was stored"
            ) from exc


def _is_not_found(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def _client_error_words(exc: Any) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "unknown"))
    if code in {"NoSuchBucket", "404"}:
        return "the bucket does not exist; create it or correct the location"
    if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
        return (
            f"the credentials were refused ({code}); set SHOWDESK_S3_ACCESS_KEY_ID and SHOWDESK_S3_SECRET_ACCESS_KEY "
            f"or the keyring entries {KEYRING_SERVICE}/{KEYRING_ACCESS_KEY} and {KEYRING_SECRET_KEY}"
        )
    message = str(error.get("Message", ""))[:200]
    return f"{code}{': ' + message if message else ''}"
