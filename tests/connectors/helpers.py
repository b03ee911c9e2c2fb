"""Reports for the connector tests: screenshots that look and compress like real ones; TLS and a proxy."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import ipaddress
import random
import ssl
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw

from agent.bundle import AttachmentDraft, ReportBundle, StepDraft, build_bundle
from agent.connectors.httpclient import HttpClient
from agent.schema import Report, Reporter, Source

SYSINFO = {
    "showdesk": {"version": "0.1.0", "python": "3.11.7", "collected_at": "2024-05-01T12:00:00+00:00",
                 "elapsed_ms": 120},
    "os": {"name": "Debian GNU/Linux 12", "architecture": "x86_64", "kernel": "6.1.0", "hostname": "pc-17",
           "user": "ann", "uptime_seconds": 3 * 86400},
    "memory": {"total": 8 * 1024**3, "available": 300 * 1024**2, "percent": 96.3},
    "disks": [{"mount": "/", "device": "/dev/sda2", "filesystem": "ext4", "read_only": False,
               "total": 100 * 1024**3, "used": 99 * 1024**3, "free": 1024**3, "percent": 99.0}],
}


def screenshot(seed: int, size: tuple[int, int] = (1920, 1080), *, noise: tuple[int, int] | None = None,
               fmt: str = "PNG") -> bytes:
    """A desktop-like picture: a background, windows with title bars and lines of text.

    ``noise`` adds a photo-like block of that size (random pixels), which does not compress:
    the way to make a screenshot too large for a limit.
    """
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, (30 + seed % 50, 60, 90))
    draw = ImageDraw.Draw(image)
    for _window in range(4):
        left, top = rng.randrange(0, width // 2), rng.randrange(0, height // 2)
        right = left + rng.randrange(width // 6, width // 2)
        bottom = top + rng.randrange(height // 6, height // 2)
        draw.rectangle((left, top, right, bottom), fill=(245, 245, 245), outline=(80, 80, 80))
        draw.rectangle((left, top, right, top + 28), fill=(rng.randrange(256), 90, 160))
        draw.text((left + 8, top + 8), f"Window {rng.randrange(1000)} - seed {seed}", fill=(255, 255, 255))
        for line in range(top + 40, bottom - 14, 18):
            words = " ".join(rng.choice(("error", "printer", "queue", "the", "job", "failed", "retry", "0x80070005"))
                             for _ in range(rng.randrange(3, 12)))
            draw.text((left + 10, line), words, fill=(20, 20, 20))
    if noise is not None:
        block = Image.frombytes("RGB", noise, rng.randbytes(noise[0] * noise[1] * 3))
        image.paste(block, (width - noise[0] - 10, height - noise[1] - 10))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def report_bundle(
    *,
    screenshots: list[bytes] | None = None,
    steps: int = 3,
    size: tuple[int, int] = (640, 400),
    email: str | None = "ann@example.org",
    attachment: bytes | None = b"2024-05-01 12:00:01 spooler: job 42 failed\n",
    description: str = "The printer on floor 2 says 'offline' — every job fails.\nIt worked yesterday.",
    category: str = "Printer",
    site: str | None = "HQ",
    seed: int = 0,
    report_id: uuid.UUID | None = None,
) -> ReportBundle:
    """A report with captioned steps, an attached log and system information."""
    images = screenshots if screenshots is not None else [screenshot(seed * 10 + n, size) for n in range(steps)]
    drafts = []
    for number, data in enumerate(images, start=1):
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
        drafts.append(
            StepDraft(
                image=data,
                width=width,
                height=height,
                captured_at=datetime(2024, 5, 1, 12, number, tzinfo=UTC),
                caption=f"Step {number}: the dialog after clicking Print ({seed})",
            )
        )
    report = Report(
        id=report_id or uuid.uuid4(),
        category=category,
        description=description,
        reporter=Reporter(name="Ann Example", email=email, badge_id="B-17"),
        source=Source(kind="kiosk", id="kiosk-lobby", site=site, app_version="0.1.0"),
    )
    attachments = [AttachmentDraft(attachment, "spooler.log", "text/plain")] if attachment is not None else []
    return build_bundle(report, drafts, attachments, sysinfo=SYSINFO)


# ---------------------------------------------------------------- TLS for loopback servers
@dataclass
class Pki:
    """A throw-away CA and a server certificate for 127.0.0.1 it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_pki(directory: Path) -> Pki:
    now = dt.datetime.now(dt.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(name("ShowDesk connector test CA")).issuer_name(
            name("ShowDesk connector test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return pki


# ---------------------------------------------------------------- a forward HTTP proxy on loopback
class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1: it takes absolute-form requests (``GET http://host/path``),
    passes them on to that host (loopback only) and records each target, so a test sees what went through it.
    """

    def __init__(self) -> None:
        self.targets: list[str] = []  # "METHOD absolute-URL" of every request that came through
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="test-proxy", daemon=True
        )

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _relay(self) -> None:
                target = urlsplit(self.path)
                if target.scheme != "http" or target.hostname != "127.0.0.1":
                    self._answer(502, {}, b"this test proxy relays only to http://127.0.0.1")
                    return
                with proxy._lock:
                    proxy.targets.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                origin_form = target.path + (f"?{target.query}" if target.query else "")
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    connection.request(self.command, origin_form or "/", body=body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    answer = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
                finally:
                    connection.close()
                self._answer(response.status, answer, data)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _relay  # noqa: N815 - http.server's naming
            do_POST = _relay  # noqa: N815 - http.server's naming
            do_PUT = _relay  # noqa: N815 - http.server's naming
            do_DELETE = _relay  # noqa: N815 - http.server's naming

        return Handler


_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "content-length"}
)


# ---------------------------------------------------------------- `showdesk capture --submit` end to end
def capture_and_submit(backend_toml: str, token: str, env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    """Run ``showdesk capture --submit --backend helpdesk --json`` with ``[backends.helpdesk]`` = ``backend_toml``
    (its body, without the header) and the token in SHOWDESK_TOKEN; the command's JSON outcome."""
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text(f"[backends.helpdesk]\n{backend_toml}", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "showdesk", "capture", "--submit", "--backend", "helpdesk", "--json",
         "--description", "Printer offline", "--category", "Printer"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **env, "SHOWDESK_CONFIG": str(config), "SHOWDESK_TOKEN": token,
             "SHOWDESK_OUTBOX": str(tmp_path / "outbox")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome: dict[str, object] = json.loads(result.stdout)
    assert outcome["state"] == "delivered", outcome
    return outcome


def http_client(url: str, **kwargs: Any) -> HttpClient:
    """An ``HttpClient`` for a test backend at ``url``."""
    return HttpClient(url, system="the backend", kind="test", **kwargs)
