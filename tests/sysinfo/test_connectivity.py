"""The connection check against real sockets on 127.0.0.1: reachable, refused, unresolvable, proxied."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config
from agent.flags import compute_flags
from agent.sysinfo import SysinfoOptions, check_connectivity, collect

# Content tests get room; the deadline is the collector's own bound, not an assertion.
BOUND = 5.0


@dataclass
class Seen:
    paths: list[str] = field(default_factory=list)
    proxy_authorization: list[str | None] = field(default_factory=list)


@dataclass
class Server:
    port: int
    seen: Seen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _serve(status: int, tls: tuple[str, str] | None = None) -> Iterator[Server]:
    seen = Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.paths.append(self.path)
            seen.proxy_authorization.append(self.headers.get("Proxy-Authorization"))
            body = b"ok\n"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_CONNECT(self) -> None:
            # As a proxy: open the tunnel and pipe bytes both ways until either side closes.
            seen.paths.append(f"CONNECT {self.path}")
            seen.proxy_authorization.append(self.headers.get("Proxy-Authorization"))
            if status != 200:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            host, _, port = self.path.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=BOUND) as upstream:
                self.send_response(200, "Connection established")
                self.end_headers()
                to_upstream = threading.Thread(target=_pump, args=(self.connection, upstream), daemon=True)
                to_upstream.start()
                _pump(upstream, self.connection)
                to_upstream.join(timeout=BOUND)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(httpd.server_address[1], seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


@pytest.fixture
def backend() -> Iterator[Server]:
    yield from _serve(200)


@pytest.fixture
def failing_backend() -> Iterator[Server]:
    yield from _serve(503)


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def test_a_reachable_backend_gives_timings_and_is_asked_for_healthz(backend: Server) -> None:
    result = check_connectivity(f"{backend.url}/desk/", time.monotonic() + BOUND)
    assert result["checked"] is True
    assert result["reachable"] is True
    assert result["failed_step"] is None and result["reason"] is None
    assert result["http_status"] == 200
    assert result["address"] == "127.0.0.1"
    for key in ("tcp_ms", "http_ms"):
        value = result[key]
        assert isinstance(value, float) and value >= 0, key
    # An address needs no lookup: the step says so instead of timing nothing.
    assert result["dns_ms"] is None and result["tls_ms"] is None
    assert backend.seen.paths == ["/desk/healthz"]
    assert result["verdict"] == "reachable"
    assert result["summary"] == "The help desk answers: HTTP 200 from 127.0.0.1"
    all_steps: Any = result["steps"]
    steps = {step["step"]: step for step in all_steps}
    assert list(steps) == ["route", "gateway", "dns", "tcp", "http"]
    assert steps["route"]["state"] == "ok" and "127.0.0.1 is reached over lo" in steps["route"]["detail"]
    assert steps["gateway"] == {
        "step": "gateway",
        "label": "Gateway",
        "state": "skipped",
        "detail": "none needed: 127.0.0.1 is on this machine",
    }
    assert steps["dns"]["detail"] == "127.0.0.1 is an address: no lookup needed"


def test_a_closed_port_is_unreachable_with_a_plain_reason() -> None:
    port = _closed_port()
    result = check_connectivity(f"http://127.0.0.1:{port}", time.monotonic() + BOUND)
    assert result["reachable"] is False
    assert result["failed_step"] == "tcp"
    assert result["reason"] == f"nothing is listening at 127.0.0.1 port {port} (connection refused)"
    assert result["summary"] == f"Connection failed: nothing is listening at 127.0.0.1 port {port} (connection refused)"
    assert result["tcp_ms"] is None


def test_an_unresolvable_name_fails_at_the_dns_step() -> None:
    # Without a network the resolver may answer at once or not at all: the check's own
    # deadline turns a silent resolver into an answer too.
    result = check_connectivity("https://showdesk-nonexistent.invalid/", time.monotonic() + 1.0)
    assert result["reachable"] is False
    assert result["failed_step"] == "dns"
    assert "showdesk-nonexistent.invalid" in str(result["reason"])
    assert result["tcp_ms"] is None


@pytest.mark.parametrize(
    "host",
    [
        "b\u00fccher.showdesk-nonexistent.invalid",  # looked up by its IDNA form
        "a..showdesk-nonexistent.invalid",  # an empty label: the resolver's answer, not an exception
    ],
)
def test_names_beyond_plain_ascii_labels_fail_at_the_dns_step_too(host: str) -> None:
    result = check_connectivity(f"https://{host}/", time.monotonic() + 1.0)
    assert result["reachable"] is False
    assert result["failed_step"] == "dns"
    assert host in str(result["reason"])


def test_a_server_error_is_reachable_but_flagged(failing_backend: Server) -> None:
    snapshot = collect(
        SysinfoOptions(timeout=BOUND, backend_url=failing_backend.url, exclude=["processes", "cpu", "disks"])
    )
    check = snapshot["connectivity"]
    assert isinstance(check, dict)
    assert check["reachable"] is True and check["http_status"] == 503
    assert [flag.code for flag in compute_flags(snapshot)] == ["backend_error"]


def test_collect_reports_an_unreachable_backend_as_a_flag() -> None:
    port = _closed_port()
    snapshot = collect(SysinfoOptions(timeout=BOUND, backend_url=f"http://127.0.0.1:{port}", exclude=["processes"]))
    flags = [flag for flag in compute_flags(snapshot) if flag.group == "connectivity"]
    assert [flag.code for flag in flags] == ["backend_unreachable"]
    assert "connection refused" in flags[0].message


def test_a_plain_http_proxy_is_used_and_its_password_not_shown(
    backend: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server plays the proxy: it sees the absolute address in the request line.
    monkeypatch.setenv("http_proxy", f"http://carol:pr0xy-pass@127.0.0.1:{backend.port}")
    result = check_connectivity("http://help.example.org/desk", time.monotonic() + BOUND)
    assert result["reachable"] is True, result
    assert backend.seen.paths == ["http://help.example.org/desk/healthz"]
    assert backend.seen.proxy_authorization[0] is not None
    assert result["via_proxy"] == f"http://[scrubbed]@127.0.0.1:{backend.port}"


def test_the_backends_own_proxy_wins_over_the_environment_and_its_bypass_list(
    backend: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environment says: no proxy for this host. The backend's setting says: this proxy.
    monkeypatch.setenv("no_proxy", "help.example.org")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_closed_port()}")
    configured = f"http://127.0.0.1:{backend.port}"
    result = check_connectivity("http://help.example.org/desk", time.monotonic() + BOUND, proxy=configured)
    assert result["reachable"] is True, result
    assert backend.seen.paths == ["http://help.example.org/desk/healthz"]
    assert result["via_proxy"] == configured


def test_the_snapshot_checks_through_the_configured_backend_proxy(
    backend: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[backend]\nurl = "http://help.example.org/desk"\nproxy = "http://127.0.0.1:{backend.port}"\n'
    )
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
    options = SysinfoOptions.from_config(load_config())
    assert options.backend_proxy == f"http://127.0.0.1:{backend.port}"
    snapshot = collect(replace(options, exclude=["processes"]))
    connectivity = snapshot["connectivity"]
    assert isinstance(connectivity, dict) and connectivity["reachable"] is True, connectivity
    assert backend.seen.paths == ["http://help.example.org/desk/healthz"]


def test_no_backend_or_a_non_network_backend_is_not_checked() -> None:
    assert check_connectivity(None, time.monotonic() + BOUND)["checked"] is False
    assert check_connectivity("", time.monotonic() + BOUND)["checked"] is False
    result = check_connectivity("http://127.0.0.1:notaport", time.monotonic() + BOUND)
    assert result["checked"] is False and "port" in str(result["reason"])


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command makes the test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_backend(self_signed: tuple[str, str]) -> Iterator[Server]:
    yield from _serve(200, tls=self_signed)


def test_an_untrusted_certificate_fails_at_the_tls_step(tls_backend: Server) -> None:
    url = f"https://127.0.0.1:{tls_backend.port}"
    result = check_connectivity(url, time.monotonic() + BOUND)
    assert result["reachable"] is False
    assert result["failed_step"] == "tls"
    assert "certificate of 127.0.0.1 is not trusted" in str(result["reason"])
    assert isinstance(result["tcp_ms"], float)


def test_the_configured_ca_bundle_is_trusted(tls_backend: Server, self_signed: tuple[str, str]) -> None:
    url = f"https://127.0.0.1:{tls_backend.port}"
    result = check_connectivity(url, time.monotonic() + BOUND, ca_bundle=self_signed[0])
    assert result["reachable"] is True, result
    assert isinstance(result["tls_ms"], float) and result["http_status"] == 200
    assert tls_backend.seen.paths == ["/healthz"]


def test_https_goes_through_a_connect_tunnel_when_a_proxy_is_set(
    backend: Server, tls_backend: Server, self_signed: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{backend.port}")
    url = f"https://127.0.0.1:{tls_backend.port}"
    result = check_connectivity(url, time.monotonic() + BOUND, ca_bundle=self_signed[0])
    assert result["reachable"] is True, result
    assert result["via_proxy"] == f"http://127.0.0.1:{backend.port}"
    assert backend.seen.paths == [f"CONNECT 127.0.0.1:{tls_backend.port}"]
    assert tls_backend.seen.paths == ["/healthz"]


def test_a_proxy_refusing_the_tunnel_is_named_as_the_failed_step(
    failing_backend: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", failing_backend.url)
    result = check_connectivity("https://help.example.org", time.monotonic() + BOUND)
    assert result["reachable"] is False
    assert result["failed_step"] == "proxy"
    assert "503" in str(result["reason"])
    assert failing_backend.seen.paths == ["CONNECT help.example.org:443"]


def _one_answer(answer: bytes) -> tuple[int, list[bytes], threading.Thread]:
    """A TCP server on 127.0.0.1 that reads one request, sends ``answer`` and closes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    requests: list[bytes] = []

    def serve() -> None:
        with listener, listener.accept()[0] as peer:
            peer.settimeout(BOUND)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = peer.recv(4096)
                if not chunk:
                    break
                data += chunk
            requests.append(data)
            peer.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return int(listener.getsockname()[1]), requests, thread


def test_the_request_names_the_host_and_the_status_line_decides() -> None:
    port, requests, thread = _one_answer(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    result = check_connectivity(f"http://localhost:{port}/api", time.monotonic() + BOUND)
    thread.join(timeout=BOUND)
    [request] = requests
    lines = request.decode("ascii").split("\r\n")
    assert lines[0] == "GET /api/healthz HTTP/1.1"
    assert f"Host: localhost:{port}" in lines
    assert "Connection: close" in lines
    assert (result["reachable"], result["http_status"], result["reason"]) == (True, 404, None)


def test_a_service_that_is_not_http_fails_at_the_http_step() -> None:
    port, _, thread = _one_answer(b"SSH-2.0-OpenSSH_9.2\r\n")
    result = check_connectivity(f"http://127.0.0.1:{port}", time.monotonic() + BOUND)
    thread.join(timeout=BOUND)
    assert result["reachable"] is False
    assert result["failed_step"] == "http"
    assert result["reason"] == "127.0.0.1 did not answer over HTTP (it sent 'SSH-2.0-OpenSSH_9.2')"
