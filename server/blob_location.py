"""Which store holds the attachment files: the data directory (the default) or an S3-compatible bucket.

``[server] blobs`` / ``--blobs``: empty for ``<data>/blobs``, else ``s3://bucket/prefix?endpoint=…``
(see ``server.blobs_s3.S3Location``). Every command that touches files (serve, retention,
backup) opens the store here, so they all agree on where the files are.
"""

from __future__ import annotations

from pathlib import Path

from server.blobs import BlobBackend, BlobStore


def open_blobs(data_dir: Path, location: str) -> BlobBackend:
    """The store named by ``location`` (empty: the local directory); ``ValueError`` for a malformed location."""
    if not location.strip():
        return BlobStore(data_dir)
    from server.blobs_s3 import S3BlobStore, S3Location  # only S3 sites load the S3 client

    parsed = S3Location.parse(location.strip())
    try:
        return S3BlobStore(data_dir, parsed)
    except ImportError as exc:
        raise ValueError(f"an object store needs the S3 client library (pip install boto3): {exc}") from exc


def is_local(blobs: BlobBackend) -> bool:
    return isinstance(blobs, BlobStore)
