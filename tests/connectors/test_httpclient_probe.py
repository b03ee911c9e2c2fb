"""The network probe: one cheap GET that tells whether the network in between still answers for the backend.

Real peers on 127.0.0.1 stand in for a captive portal, a proxy and the backend itself. The probe
must say "not clear" exactly when the network (or nothing at all) answers, carry no credential
of any kind, follow no redirect and read only a little of whatever comes back.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from agent.connectors.base import Connector
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.freshservice import FreshserviceConnector
from agent.connectors.gitlab import GitLabConnector
from agent.connectors.glpi import GLPIConnector
from agent.connectors.httpclient import PROBE_READ_BYTES, HttpClient
from agent.connectors.jira import JiraConnector
from agent.connectors.redmine import RedmineConnector
from agent.connectors.rt import RTConnector
from agent.connectors.servicenow import ServiceNowConnector
from agent.connectors.zammad import ZammadConnector
from agent.connectors.zendesk import ZendeskConnector
from tests.connectors.helpers import http_client
from tests.fixtures.server import free_port
from tests.outbox.peers import Peer, Reply

# No proxy of the machine's environment: every call goes straight to the local server.
pytestmark = pytest.mark.usefixtures("no_environment_proxy")

HTML = {"Content-Type": "text/html"}
JSON = {"Content-Type": "application/json"}
SIGN_IN_PAGE = b"<!doctype html><html><head><title>Hotel Wi-Fi</title></head><body>Sign in</body></html>"


# ---------------------------------------------------------------- what the answer means
@pytest.mark.parametrize("reply", [
    Reply(511, SIGN_IN_PAGE, HTML),
    Reply(407, b"", {"Proxy-Authenticate": "Basic realm=corp"}),
    Reply(502, b"<html><title>ERROR: not retrieved</title></html>", {**HTML, "X-Squid-Error": "ERR_CONNECT_FAIL"}),
    Reply(504, b"<html><head><title>Proxy timeout</title></head></html>", HTML),
], ids=["511", "407", "squid-502", "proxy-504"])
def test_a_portal_or_a_proxy_answering_is_not_clear(reply: Reply) -> None:
    with Peer() as network:
        network.answer(reply)
        client = http_client(f"{network.url}/api/v1")
        assert client.network_clear() is False
        client.close()
    [look] = network.received
    assert (look.method, look.path, look.body) == ("GET", "/api/v1", b"")


def test_a_redirect_to_another_host_is_not_clear_and_is_not_followed() -> None:
    with Peer() as login, Peer() as portal:
        portal.answer(Reply(302, SIGN_IN_PAGE, {**HTML, "Location": f"{login.url}/login?continue=1"}))
        login.answer(Reply(200, SIGN_IN_PAGE, HTML))
        client = http_client(portal.url)
        assert client.network_clear() is False
        client.close()
    assert len(portal.received) == 1 and login.received == []


@pytest.mark.parametrize("reply", [
    Reply(404, b'{"detail": "Not Found"}', JSON),
    Reply(401, b'{"message": "Unauthorized"}', JSON),
    Reply(200, b"{}", JSON),
    Reply(500, b'{"detail": "database is locked"}', JSON),
    Reply(503, b"<html><title>Maintenance</title></html>", {**HTML, "Server": "nginx"}),  # the backend's own
    Reply(302, b"", {"Location": "/login"}),  # the backend sending to its own page
], ids=["404", "401", "200", "500", "own-503", "own-redirect"])
def test_whatever_the_backend_itself_answers_is_clear(reply: Reply) -> None:
    with Peer() as backend:
        backend.answer(reply)
        client = http_client(backend.url)
        assert client.network_clear() is True
        client.close()
    assert len(backend.received) == 1


def test_nothing_answering_is_not_clear() -> None:
    client = http_client(f"http://127.0.0.1:{free_port()}")
    assert client.network_clear() is False
    client.close()
    with Peer() as plain:  # a TLS failure: the other side speaks no TLS
        client = http_client(plain.url.replace("http://", "https://"))
        assert client.network_clear() is False
        client.close()


def test_a_web_page_at_an_api_root_is_a_sign_in_page_only_where_the_caller_says_so() -> None:
    with Peer() as portal:
        portal.answer(Reply(200, SIGN_IN_PAGE, HTML), Reply(200, SIGN_IN_PAGE, HTML))
        client = http_client(f"{portal.url}/api/v1")
        assert client.network_clear(web_page_means_portal=True) is False
        assert client.network_clear() is True  # a system whose base URL is its web interface
        client.close()


# ---------------------------------------------------------------- bounded
class EndlessAnswer:
    """A raw HTTP server that promises a huge body, sends some of it, and never sends the rest."""

    def __init__(self, status: int) -> None:
        self._status = status
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.sent = 0

    def __enter__(self) -> EndlessAnswer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._server.close()
        self._thread.join(10)

    def _serve(self) -> None:
        client, _ = self._server.accept()
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                request += client.recv(4096)
            client.sendall(f"HTTP/1.1 {self._status} Not Found\r\nContent-Type: text/plain\r\n"
                           f"Content-Length: {1 << 30}\r\n\r\n".encode())
            chunk = b"x" * (PROBE_READ_BYTES * 4)
            client.sendall(chunk)
            self.sent = len(chunk)
            self._done.wait(30)  # the rest never comes: a probe that wanted it all would time out


def test_the_probe_reads_a_little_of_an_answer_and_never_waits_for_the_rest() -> None:
    # A probe that read the whole answer would hit its read timeout and say "not clear".
    with EndlessAnswer(404) as server:
        client = http_client(server.url)
        assert client.network_clear() is True
        client.close()


# ---------------------------------------------------------------- no credential, whoever asks
ConnectorMaker = Callable[[str], Connector]
CONNECTORS: dict[str, tuple[ConnectorMaker, str]] = {
    "builtin": (lambda url: BuiltinConnector(url, token="secret-builtin-token"), "/api/v1"),
    "rt": (lambda url: RTConnector(url, queue="General", token="secret-rt-token"), "/"),
    "zammad": (lambda url: ZammadConnector(url, group="Users", token="secret-zammad-token"), "/"),
    "glpi": (lambda url: GLPIConnector(f"{url}/apirest.php", user_token="secret-user-token",
                                       app_token="secret-app-token"), "/apirest.php"),
    "jira": (lambda url: JiraConnector(url, token="secret-jira-token", email="it@example.org", project="IT"), "/"),
    "servicenow": (lambda url: ServiceNowConnector(url, token="secret-now-token", user="showdesk"), "/"),
    "zendesk": (lambda url: ZendeskConnector(url, token="secret-zendesk-token", email="it@example.org"), "/"),
    "freshservice": (lambda url: FreshserviceConnector(url, token="secret-fresh-token"), "/"),
    "gitlab": (lambda url: GitLabConnector(url, project="it/help", token="secret-gitlab-token"), "/"),
    "redmine": (lambda url: RedmineConnector(url, project="help", token="secret-redmine-token"), "/"),
}


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_each_connectors_probe_carries_no_credential(name: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials for this host in a ~/.netrc: requests would add them to a request without its own auth.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret-netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    make, probed_path = CONNECTORS[name]
    with Peer() as backend:
        # An earlier call left a session cookie in the connector's session.
        backend.answer(Reply(200, b"{}", {**JSON, "Set-Cookie": "session=secret-cookie; Path=/"}),
                       Reply(404, b'{"detail": "Not Found"}', JSON), Reply(200, b"{}", JSON))
        connector = make(backend.url)
        http = getattr(connector, "http")  # noqa: B009 - each connector's HttpClient, under the same name
        assert isinstance(http, HttpClient)
        http.request("GET", "/warm-up", headers={"Authorization": "secret-header"}).close()
        assert http.session.cookies.get("session") == "secret-cookie"
        assert connector.network_clear() is True
        connector.close()
        # Why the probe says no auth of its own: a plain request would have carried the ~/.netrc password.
        requests.get(f"{backend.url}/control", timeout=5).close()
    _warm_up, look, control = backend.received
    assert look.method == "GET" and look.path == probed_path and look.body == b""
    assert not {"Authorization", "Cookie", "Session-Token", "App-Token"} & set(look.headers)
    assert not any("secret" in value for value in look.headers.values())
    assert "Authorization" in control.headers
