"""Building real reports and sending them to the real server, for the server tests."""

from __future__ import annotations

import hashlib
import io
import json
import random
import sqlite3
import struct
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from PIL import Image, ImageDraw
from urllib3 import encode_multipart_formdata

from agent.bundle import AttachmentDraft, ReportBundle, StepDraft, build_bundle
from agent.schema import Report, Reporter, Source
from server.seed import seed_tickets
from server.store import Store
from server.store.records import LINK_KEY_NAME, link_hash, link_secret
from tests.fixtures.server import ServerProcess


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A small real PNG whose pixels depend on ``seed`` (so digests differ)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + width // 4, y + height // 4), fill=(rng.randrange(256), 0, rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def noisy_png(width: int, height: int, seed: int) -> bytes:
    """A PNG of random pixels: it barely compresses, so its size is about width × height × 3."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature, IHDR announcing ``width``×``height`` and IEND: cheap, but claims a huge image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def make_report(
    *,
    source_id: str = "pc-101",
    site: str | None = None,
    walk_up: bool = False,
    category: str = "Printing",
    description: str = "The printer shows an error\nand nothing comes out",
    reporter_name: str | None = "Alice Baker",
    reporter_email: str | None = "alice.baker@example.test",
    kind: str = "agent",
    self_help_articles: Sequence[str] = (),
) -> Report:
    return Report(
        id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        reporter=Reporter(name=reporter_name, email=reporter_email),
        category=category,
        description=description,
        source=Source(kind=kind, id=source_id, site=site, app_version="test"),  # type: ignore[arg-type]
        walk_up=walk_up,
        self_help_articles=list(self_help_articles),
    )


def make_bundle(
    seed: int = 0,
    *,
    steps: int = 1,
    images: Sequence[bytes] | None = None,
    attachments: Iterable[AttachmentDraft] = (),
    sysinfo: dict[str, object] | None = None,
    **report_fields: Any,
) -> ReportBundle:
    """A real bundle (agent.bundle.build_bundle) with ``steps`` PNG steps and optional extras."""
    report = make_report(**report_fields)
    pictures = list(images) if images is not None else [png_bytes(seed=seed * 100 + i) for i in range(steps)]
    drafts = []
    for index, picture in enumerate(pictures):
        with Image.open(io.BytesIO(picture)) as image:
            width, height = image.size
        drafts.append(
            StepDraft(
                image=picture,
                width=width,
                height=height,
                captured_at=datetime.now(UTC),
                caption=f"step {index + 1}",
            )
        )
    return build_bundle(report, drafts, attachments, {"os": "TestOS", "seed": seed} if sysinfo is None else sysinfo)


@dataclass
class Upload:
    """What goes over the wire: manifest bytes and files by their bundle path (may be tampered with)."""

    report_id: str
    manifest: bytes
    files: dict[str, bytes]
    media_types: dict[str, str]

    @classmethod
    def of(cls, bundle: ReportBundle) -> Upload:
        media = {ref.path: ref.media_type for ref in bundle.report.files()}
        return cls(str(bundle.report.id), bundle.report.canonical_json(), dict(bundle.files), media)

    def copy(self) -> Upload:
        return Upload(self.report_id, self.manifest, dict(self.files), dict(self.media_types))

    def manifest_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.manifest)
        return loaded

    def with_manifest(self, data: dict[str, Any]) -> Upload:
        return Upload(self.report_id, json.dumps(data).encode(), dict(self.files), dict(self.media_types))

    def replace_file(self, path: str, data: bytes, *, fix_manifest: bool = True) -> Upload:
        """Swap one file's bytes; with ``fix_manifest`` its digest and size in the manifest follow."""
        files = {**self.files, path: data}
        manifest = self.manifest_json()
        if fix_manifest:
            for ref in _file_refs(manifest):
                if ref["path"] == path:
                    ref["sha256"] = hashlib.sha256(data).hexdigest()
                    ref["size"] = len(data)
        return Upload(self.report_id, json.dumps(manifest).encode(), files, dict(self.media_types))

    def encode(self) -> tuple[bytes, str]:
        """The multipart body (docs/api.md) and its Content-Type."""
        fields: list[tuple[str, tuple[str, bytes, str]]] = [
            ("manifest", ("manifest.json", self.manifest, "application/json"))
        ]
        for path, data in self.files.items():
            fields.append(("file", (path, data, self.media_types.get(path, "application/octet-stream"))))
        body, content_type = encode_multipart_formdata(fields)
        return body, content_type


def _file_refs(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = []
    for step in manifest.get("steps", []):
        refs.append(step["image"])
        if step.get("original"):
            refs.append(step["original"])
    refs.extend(a["file"] for a in manifest.get("attachments", []))
    if manifest.get("sysinfo"):
        refs.append(manifest["sysinfo"])
    return refs


def submit(
    server: ServerProcess,
    token: str | None,
    upload: Upload | ReportBundle,
    *,
    key: str | None = "",
    session: requests.Session | None = None,
    timeout: float = 30,
) -> requests.Response:
    """POST /api/v1/reports; ``key`` defaults to the report id, None leaves the header out."""
    if isinstance(upload, ReportBundle):
        upload = Upload.of(upload)
    body, content_type = upload.encode()
    headers = {"Content-Type": content_type}
    if token is not None:
        headers.update(ServerProcess.auth(token))
    if key is not None:
        headers["Idempotency-Key"] = key or upload.report_id
    return (session or requests).post(f"{server.api}/reports", data=body, headers=headers, timeout=timeout)


def api(server: ServerProcess, token: str | None, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.update(ServerProcess.auth(token))
    return requests.request(method, f"{server.api}{path}", headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)


def query_database(server: ServerProcess, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the server's database, whichever engine (SQLite file or PostgreSQL)."""
    if server.database:
        import psycopg

        with psycopg.connect(server.database, connect_timeout=10) as pg:
            return [tuple(row) for row in pg.execute(sql).fetchall()]
    conn = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def stored_state(server: ServerProcess) -> tuple[int, int, list[str]]:
    """(tickets, timeline events, every file under blobs/ and tmp/) — to show a refusal stored nothing."""
    tickets = int(query_database(server, "SELECT count(*) FROM tickets")[0][0])
    events = int(query_database(server, "SELECT count(*) FROM events")[0][0])
    files = sorted(
        str(p.relative_to(server.data_dir))
        for root in ("blobs", "tmp")
        for p in (server.data_dir / root).rglob("*")
        if p.is_file()
    )
    return tickets, events, files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The tables seed_tickets fills, in the order their references need.
_SEEDED_TABLES = ("tickets", "events")


def seed_store(store: Store, count: int, *, seed: int = 0, scratch: Path) -> int:
    """``server.seed.seed_tickets`` on either engine: the same tickets (same seed, same rows) on SQLite or PostgreSQL.

    The seeder writes SQLite rows directly; for PostgreSQL they are made in a scratch SQLite store
    first and copied over with their sequence numbers, each link derived again from the target's key.
    """
    if store.engine == "sqlite":
        return seed_tickets(store, count, seed=seed)
    source = Store(scratch)
    try:
        made = seed_tickets(source, count, seed=seed)
        reader = source.connection()
        with store.database.write(notify=False) as conn:
            for table in _SEEDED_TABLES:
                cursor = reader.execute(f"SELECT * FROM {table} ORDER BY rowid")  # noqa: S608 - fixed names
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
                marks = ", ".join("?" for _ in columns)
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - fixed names
                    [tuple(row) for row in rows],
                )
                if table == "tickets":
                    # Links derived from the target's own key (the open store holds it), as a submission does.
                    found = conn.execute("SELECT value FROM server_secrets WHERE name = ?", (LINK_KEY_NAME,)).fetchone()
                    key = bytes(found[0])
                    conn.executemany(
                        "UPDATE tickets SET link_hash = ? WHERE seq = ?",
                        [(link_hash(link_secret(key, row["id"], 0)), row["seq"]) for row in rows],
                    )
                # Identities continue after the copied numbers, as AUTOINCREMENT would.
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), (SELECT max(seq) FROM {table}))"  # noqa: S608
                )
    finally:
        source.close()
    return made
