"""Trusted reverse proxies: whose X-Forwarded-For names the client that per-client limits count.

A real server on 127.0.0.1 with the link-guessing limit small (a burst of three misses). Linux
routes all of 127.0.0.0/8 to loopback, so a client socket bound to 127.0.0.2 or 127.0.0.4 is a
peer with an address of its own: 127.0.0.2 stands for a proxy on another machine that the server
trusts (a network of them, as written in the settings), 127.0.0.4 for one it does not.

The server is started with its settings built in Python (server.runner.serve), because the
command line's ``--trusted-proxies`` lives in server/cli.py; everything after that is the real
process on a real socket.
"""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.settings import LOOPBACK_PROXIES, Settings, parse_trusted_proxies
from tests.fixtures.server import ServerProcess

GUESS_BURST = 3
TRUSTED_NETWORK = "127.0.0.2/31"  # 127.0.0.2 and 127.0.0.3: the proxies
PROXY = "127.0.0.2"
UNTRUSTED_PEER = "127.0.0.4"

_LAUNCH = """
import json, sys
from pathlib import Path
from server.runner import serve
from server.settings import Settings, parse_trusted_proxies
given = json.loads(sys.argv[1])
settings = Settings(
    data_dir=Path(given["data_dir"]),
    host=given["host"],
    port=given["port"],
    trusted_proxies=parse_trusted_proxies(given["trusted_proxies"]),
    link_guess_per_minute=1.0,
    link_guess_burst=given["burst"],
)
sys.exit(serve(settings, handover=False))
"""


class ProxiedServer(ServerProcess):
    """The built-in server with trusted proxies set (serve() with its Settings, see the module's docstring)."""

    def __init__(self, data_dir: Path, trusted_proxies: list[str]) -> None:
        super().__init__(data_dir)
        self.trusted_proxies = trusted_proxies

    def command(self) -> list[str]:
        given = {
            "data_dir": str(self.data_dir),
            "host": self.host,
            "port": self.port,
            "trusted_proxies": self.trusted_proxies,
            "burst": GUESS_BURST,
        }
        return [sys.executable, "-c", _LAUNCH, json.dumps(given)]


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedServer]:
    server = ProxiedServer(tmp_path_factory.mktemp("proxied") / "data", [TRUSTED_NETWORK])
    try:
        yield server.start()  # type: ignore[misc]
    finally:
        server.stop()


def guess(server: ServerProcess, peer: str, forwarded_for: str | None, attempt: str) -> int:
    """One wrong link, sent from the local address ``peer`` (with an X-Forwarded-For header if given); the status."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10, source_address=(peer, 0))
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    try:
        connection.request("GET", f"/t/wrong-{attempt}", headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_guessing_limit(proxied_server: ProxiedServer) -> None:
    first = [guess(proxied_server, PROXY, "198.51.100.7", f"a{n}") for n in range(GUESS_BURST + 1)]
    assert first == [404] * GUESS_BURST + [429]
    # Another person behind the same proxy is not refused for the first one's misses.
    assert guess(proxied_server, PROXY, "198.51.100.8", "b0") == 404
    # The proxy's own address was never charged: a direct request from it still has its burst.
    assert guess(proxied_server, PROXY, None, "direct") == 404
    # The header's last untrusted entry is the client: a forged entry the client put first changes nothing.
    assert guess(proxied_server, "127.0.0.3", "203.0.113.1, 198.51.100.7", "a-forged") == 429


def test_from_an_untrusted_peer_the_header_is_ignored_and_the_peer_is_counted(proxied_server: ProxiedServer) -> None:
    misses = [guess(proxied_server, UNTRUSTED_PEER, f"198.51.100.{20 + n}", f"c{n}") for n in range(GUESS_BURST)]
    assert misses == [404] * GUESS_BURST
    # A new forwarded address each time does not buy new guesses: the limit counts the peer.
    assert guess(proxied_server, UNTRUSTED_PEER, "198.51.100.99", "c-last") == 429


def test_trusted_proxies_are_addresses_or_networks_and_loopback_is_always_trusted() -> None:
    assert parse_trusted_proxies([" 10.0.0.5 ", "10.1.0.7/16", "2001:db8::1", "10.0.0.5"]) == (
        "10.0.0.5",
        "10.1.0.0/16",
        "2001:db8::1",
    )
    for wrong in ("*", "proxy.example.org", "10.0.0.300", ""):
        with pytest.raises(ValueError, match="trusted_proxies"):
            parse_trusted_proxies([wrong])
    assert Settings(data_dir=Path("unused")).forwarded_allow_ips == list(LOOPBACK_PROXIES)
    assert Settings(data_dir=Path("unused"), trusted_proxies=("10.1.0.0/16",)).forwarded_allow_ips == [
        *LOOPBACK_PROXIES,
        "10.1.0.0/16",
    ]


def test_the_command_line_and_the_file_refuse_what_is_not_a_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from server import cli

    # Refused before anything starts: the port is never opened, the data directory never made.
    data = tmp_path / "never-made"
    assert cli.main(["serve", "--data", str(data), "--trusted-proxies", "10.0.0.0/8,*"]) == cli.EXIT_CONFIG
    assert "'*' would trust a forwarded address from anyone" in capsys.readouterr().err
    config = tmp_path / "config.toml"
    config.write_text('[server]\ntrusted_proxies = ["proxy.example.org"]\n', encoding="utf-8")
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config))
    assert cli.main(["serve", "--data", str(data)]) == cli.EXIT_CONFIG
    assert "server.trusted_proxies: 'proxy.example.org' is not an IP address" in capsys.readouterr().err
    assert not data.exists()
