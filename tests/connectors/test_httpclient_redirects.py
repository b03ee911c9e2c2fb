"""The shared HTTP client on networks that answer in the backend's place: redirects, web pages, proxies.

Real peers on 127.0.0.1: a "backend" that redirects, and a redirect target on another port that
records every request it gets, so a token that went there would be seen.
"""

from __future__ import annotations

import pytest
import requests

from agent.connectors.base import AuthError, ConnectorError, PermanentError, TransientError
from agent.connectors.common import NetworkCondition, NetworkConditionError
from agent.connectors.httpclient import HttpClient, leaves_the_backend
from tests.outbox.peers import Peer, Reply

SECRETS = {
    "Authorization": "Bearer secret-token",
    "X-Redmine-API-Key": "secret-redmine-key",
    "Session-Token": "secret-glpi-session",
}
HTML = {"Content-Type": "text/html"}
JSON = {"Content-Type": "application/json"}


def _client(url: str, **kwargs: object) -> HttpClient:
    return HttpClient(url, system="the backend", kind="test", **kwargs)  # type: ignore[arg-type]


def test_the_session_follows_no_redirect_to_another_host_even_when_asked() -> None:
    with Peer() as target, Peer() as backend:
        backend.answer(Reply(302, b"", {"Location": f"{target.url}/login"}))
        target.answer(Reply(200, b"<html>sign in</html>", HTML))
        client = _client(backend.url)
        response = client.session.get(f"{backend.url}/api", headers=SECRETS, allow_redirects=True, timeout=5)
        client.close()
    assert response.status_code == 302
    assert target.received == []


def test_a_plain_session_would_have_carried_a_custom_token_header_there() -> None:
    # Why the guard exists: requests drops Authorization on a change of host, but not other headers.
    with Peer() as target, Peer() as backend:
        backend.answer(Reply(302, b"", {"Location": f"{target.url}/login"}))
        target.answer(Reply(200, b"<html>sign in</html>", HTML))
        with requests.Session() as plain:
            plain.get(f"{backend.url}/api", headers=SECRETS, allow_redirects=True, timeout=5)
    [request] = target.received
    assert "Authorization" not in request.headers
    assert request.headers["X-Redmine-API-Key"] == SECRETS["X-Redmine-API-Key"]


def test_a_redirect_within_the_same_server_is_still_followed_when_a_caller_asks() -> None:
    with Peer() as backend:
        backend.answer(Reply(302, b"", {"Location": "/api/next"}), Reply(200, b"{}", JSON))
        client = _client(backend.url)
        response = client.session.get(f"{backend.url}/api", allow_redirects=True, timeout=5)
        client.close()
    assert response.status_code == 200
    assert [r.path for r in backend.received] == ["/api", "/api/next"]


def test_a_request_redirected_to_another_host_is_the_captive_portal_and_nothing_goes_there() -> None:
    with Peer() as target, Peer() as backend:
        backend.answer(Reply(303, b"", {"Location": f"{target.url}/login?from=api"}))
        client = _client(backend.url)
        with pytest.raises(NetworkConditionError, match="sign in first") as raised:
            client.request("POST", "/reports", headers=SECRETS, data=b"report")
        client.close()
    assert raised.value.condition is NetworkCondition.CAPTIVE_PORTAL
    assert raised.value.status == 303 and target.url in raised.value.detail
    assert "login?from" not in raised.value.detail  # where, not the page's query
    assert target.received == []
    [request] = backend.received
    assert request.headers["Authorization"] == SECRETS["Authorization"]


@pytest.mark.parametrize(("url", "target", "leaves"), [
    ("http://help.example.org/api", "/login", False),
    ("http://help.example.org/api", "http://help.example.org/other", False),
    ("http://help.example.org/api", "https://help.example.org/api", False),  # the server asks for https
    ("http://help.example.org:8080/api", "https://help.example.org/api", True),
    ("https://help.example.org/api", "https://HELP.example.org:443/x", False),
    ("https://help.example.org/api", "http://help.example.org/api", True),
    ("https://help.example.org/api", "https://portal.hotel.example/login", True),
    ("http://127.0.0.1:8000/api", "http://127.0.0.1:8001/login", True),
])
def test_what_counts_as_leaving_the_backend(url: str, target: str, leaves: bool) -> None:
    assert leaves_the_backend(url, target) is leaves


def test_a_redirect_within_the_server_is_a_configuration_fix_not_the_network() -> None:
    with Peer() as backend:
        backend.answer(Reply(301, b"", {"Location": "/v2/reports"}))
        client = _client(backend.url)
        with pytest.raises(PermanentError, match="redirect") as raised:
            client.request("POST", "/reports", data=b"x")
        client.close()
    assert not isinstance(raised.value, NetworkConditionError)


def test_a_web_page_where_json_was_expected_is_the_captive_portal() -> None:
    page = b"<!doctype html><html><head><title>Guest  Wi-Fi\n Login</title></head></html>"
    with Peer() as backend:
        backend.answer(Reply(200, page, HTML), Reply(200, page, {"Content-Type": "application/octet-stream"}))
        client = _client(backend.url)
        for _ in range(2):  # told by its Content-Type, and by its first bytes when that lies
            with pytest.raises(NetworkConditionError) as raised:
                client.json("GET", "/whoami")
            assert raised.value.condition is NetworkCondition.CAPTIVE_PORTAL
            assert "'Guest Wi-Fi Login'" in raised.value.detail
        client.close()


def test_an_answer_that_is_neither_json_nor_a_web_page_stays_a_plain_transient_error() -> None:
    with Peer() as backend:
        backend.answer(Reply(200, b"ok", {"Content-Type": "text/plain"}))
        client = _client(backend.url)
        with pytest.raises(TransientError, match="not JSON") as raised:
            client.json("GET", "/whoami")
        client.close()
    assert not isinstance(raised.value, NetworkConditionError)


def _refuse_everything(response: requests.Response, reason: str) -> ConnectorError | None:
    return AuthError(f"refused ({response.status_code})", status=response.status_code)


@pytest.mark.parametrize(("reply", "condition"), [
    (Reply(407, b"", {"Proxy-Authenticate": "Basic realm=corp"}), NetworkCondition.PROXY_SIGN_IN),
    (Reply(511, b"<html>log in</html>", HTML), NetworkCondition.CAPTIVE_PORTAL),
    (Reply(502, b"<html><title>Bad gateway</title></html>", {**HTML, "Via": "1.1 corp-proxy"}),
     NetworkCondition.PROXY_ERROR),
    (Reply(503, b"", {"Proxy-Status": "corp-proxy; error=destination_unavailable", "Retry-After": "30"}),
     NetworkCondition.PROXY_ERROR),
    (Reply(504, b"<html><title>Proxy timeout</title></html>", HTML), NetworkCondition.PROXY_ERROR),
])
def test_the_network_is_told_before_a_connectors_own_rules(reply: Reply, condition: NetworkCondition) -> None:
    with Peer() as backend:
        backend.answer(reply)
        client = _client(backend.url, classify=_refuse_everything)
        with pytest.raises(NetworkConditionError) as raised:
            client.request("GET", "/whoami")
        client.close()
    assert raised.value.condition is condition and raised.value.status == reply.status
    if "Retry-After" in reply.headers:
        assert raised.value.retry_after == 30.0


@pytest.mark.parametrize("reply", [
    Reply(502, b'{"detail": "upstream down"}', {**JSON, "Via": "1.1 edge"}),  # the backend's own, via its CDN
    Reply(503, b"<html><title>Maintenance</title></html>", {**HTML, "Server": "nginx"}),
])
def test_the_backends_own_gateway_errors_are_the_backend(reply: Reply) -> None:
    with Peer() as backend:
        backend.answer(reply)
        client = _client(backend.url)
        with pytest.raises(TransientError) as raised:
            client.request("GET", "/whoami")
        client.close()
    assert not isinstance(raised.value, NetworkConditionError) and raised.value.status == reply.status
