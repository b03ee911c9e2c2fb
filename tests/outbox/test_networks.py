"""Delivery on the networks remote workers use: a captive portal, a web page in the API's place, a proxy.

The backend is the real built-in server on 127.0.0.1; the network in between is a ``Peer``
standing in for the hotel's captive portal: until the person "signs in" it answers every
request with a redirect to its own sign-in page on another port (a second ``Peer`` that
records what reaches it), afterwards it passes requests through to the server.
"""

from __future__ import annotations

import logging
import random
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

from agent.connectors.builtin import BuiltinConnector
from agent.connectors.common import PROXY_SIGN_IN, SIGN_IN_FIRST
from agent.outbox import ATTENTION_AFTER_ATTEMPTS, ATTENTION_AFTER_SECONDS, EntryState, Outbox, Sender
from agent.outbox.netwatch import NetworkWatcher
from tests.fixtures.waiting import wait_until
from tests.outbox.helpers import FakeClock, make_bundle
from tests.outbox.peers import Peer, Reply

PORTAL_PAGE = b"<!DOCTYPE html><html><head><title>Welcome to Hotel Wi-Fi</title></head><body>Sign in</body></html>"
HTML = {"Content-Type": "text/html; charset=utf-8"}
DEADLINE_SECONDS = 20.0

_TOKENS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def token(server: Any, role: str) -> str:
    tokens = _TOKENS.setdefault(server, {})
    if role not in tokens:
        tokens[role] = server.token(role)
    return tokens[role]


def tickets_for(server: Any, report_id: str) -> int:
    """How many of the server's tickets belong to ``report_id`` (a second ticket would count twice)."""
    with BuiltinConnector(server.url, token=token(server, "technician"), read_timeout=30) as tech:
        return sum(1 for t in tech.iter_tickets(page_size=200) if str(t.report_id) == report_id)


class CaptivePortal:
    """A stand-in for a captive portal in front of ``upstream``, with its sign-in page on another port."""

    def __init__(self, upstream: str) -> None:
        self.signed_in = threading.Event()
        self.login_page = Peer()
        self.gate = Peer(upstream=upstream, reply_when=lambda _r: not self.signed_in.is_set())

    def __enter__(self) -> CaptivePortal:
        self.login_page.__enter__()
        self.gate.__enter__()
        self.login_page.answer(*[Reply(200, PORTAL_PAGE, HTML)] * 50)
        redirect = Reply(302, PORTAL_PAGE, {**HTML, "Location": f"{self.login_page.url}/login?continue=1"})
        self.gate.answer(*[redirect] * 200)
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.__exit__(None, None, None)
        self.login_page.__exit__(None, None, None)

    @property
    def url(self) -> str:
        return self.gate.url

    def redirected(self) -> int:
        return len(self.gate.received) - self.gate.forwarded


def quiet_watcher(outbox: Outbox) -> NetworkWatcher:
    """A watcher that hears only injected changes (no netlink, a poll that never comes), settling at once."""
    return NetworkWatcher(outbox.network_changed, use_netlink=False, poll_seconds=3600, settle_seconds=0,
                          min_interval=0)


def connector(server: Any, url: str) -> BuiltinConnector:
    return BuiltinConnector(url, token=token(server, "submitter"), read_timeout=30)


# ---------------------------------------------------------------- the captive portal
def test_behind_a_captive_portal_the_report_waits_then_goes_once_when_the_network_changes(
    shared_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent.outbox")
    with CaptivePortal(shared_server.url) as portal:
        # A clock that never moves: no backoff ever comes due, only the network change can send it.
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(shared_server, portal.url),
                        clock=FakeClock())
        watcher = quiet_watcher(outbox)
        sender = Sender(outbox, max_idle=0.2, watch_network=watcher)
        bundle = make_bundle(1)
        report_id = str(bundle.report.id)
        outbox.put(bundle)
        sender.start()
        try:
            wait_until(lambda: outbox.get(report_id).attempts >= 1, "the first try", DEADLINE_SECONDS)
            entry = outbox.get(report_id)
            assert entry.state is EntryState.PENDING and entry.waits_for_network
            assert entry.network == "captive-portal" and entry.last_error == SIGN_IN_FIRST
            assert "waiting for the network" in entry.describe(outbox.now())
            assert portal.redirected() == 1

            # The person opens a browser and signs in; the laptop's network comes up again afterwards.
            portal.signed_in.set()
            watcher.inject("test: the Wi-Fi came back")
            wait_until(lambda: outbox.receipt(report_id) is not None, "delivery after the change",
                       DEADLINE_SECONDS)
        finally:
            assert sender.stop(10)
        assert outbox.list() == []
        assert watcher.changes == 1 and not watcher.running
        # The token never went to the sign-in page's host, and nothing the agent sent reached it.
        assert portal.login_page.received == []
    assert tickets_for(shared_server, report_id) == 1
    # The kiosk's administrator reads where the network sent the request, in the log.
    [line] = [r.getMessage() for r in caplog.records if "waits for the network" in r.getMessage()]
    assert report_id in line and "captive-portal" in line and portal.login_page.url in line


def test_behind_a_captive_portal_the_backoff_alone_delivers_after_the_sign_in(
    shared_server: Any, tmp_path: Path
) -> None:
    with CaptivePortal(shared_server.url) as portal:
        # The largest random draw: each backoff is its shortest (2 s, 4 s… minus a quarter).
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(shared_server, portal.url),
                        rng=_HighRandom())
        sender = Sender(outbox, max_idle=0.2, watch_network=False)
        bundle = make_bundle(2)
        report_id = str(bundle.report.id)
        outbox.put(bundle)
        sender.start()
        try:
            wait_until(lambda: portal.redirected() >= 2, "two tries at the portal", DEADLINE_SECONDS)
            entry = outbox.get(report_id)
            assert entry.state is EntryState.PENDING and entry.network == "captive-portal"
            portal.signed_in.set()
            wait_until(lambda: outbox.receipt(report_id) is not None, "delivery on the backoff", DEADLINE_SECONDS)
        finally:
            assert sender.stop(10)
        assert portal.login_page.received == []
    assert tickets_for(shared_server, report_id) == 1


class _HighRandom(random.Random):
    def random(self) -> float:
        return 1.0


# ---------------------------------------------------------------- a web page in the API's place
def test_a_web_page_in_place_of_the_api_keeps_the_report_pending_and_never_holds_it(
    shared_server: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    tries = ATTENTION_AFTER_ATTEMPTS + 5
    with Peer(upstream=shared_server.url) as page:
        page.answer(*[Reply(200, PORTAL_PAGE, HTML)] * tries)
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(shared_server, page.url),
                        clock=clock)
        bundle = make_bundle(3)
        report_id = str(bundle.report.id)
        outbox.put(bundle)
        # More tries, over longer, than would hold a report the backend kept failing.
        for _ in range(tries):
            outbox.flush(force=True)
            clock.advance(ATTENTION_AFTER_SECONDS / ATTENTION_AFTER_ATTEMPTS * 2)
        entry = outbox.get(report_id)
        assert entry.state is EntryState.PENDING and not entry.needs_attention
        assert entry.attempts == tries and entry.failure_streak == 0
        assert entry.network == "captive-portal" and entry.last_error == SIGN_IN_FIRST
        shown = entry.as_dict()  # what `showdesk outbox list --json` and the apps read
        assert shown["waits_for_network"] is True and shown["network"] == "captive-portal"
        assert page.forwarded == 0
        assert tickets_for(shared_server, report_id) == 0
        # The page goes away (signed in): the same report goes through, once.
        [receipt] = outbox.flush(force=True).delivered
        outbox.close()
    assert receipt.report_id == report_id
    assert tickets_for(shared_server, report_id) == 1


# ---------------------------------------------------------------- a proxy in the way
def _proxy_says(status: int) -> Reply:
    body = b"<html><head><title>ERROR: The requested URL could not be retrieved</title></head></html>"
    return Reply(status, body, {**HTML, "Server": "squid/6.6", "X-Squid-Error": "ERR_CONNECT_FAIL 111"})


@pytest.mark.parametrize(("reply", "network", "reason"), [
    (Reply(407, b"<html>Proxy Authentication Required</html>", {**HTML, "Proxy-Authenticate": "Basic"}),
     "proxy-sign-in", PROXY_SIGN_IN),
    (_proxy_says(502), "proxy-error", "A proxy on this network answered instead of the help desk"),
    (Reply(511, PORTAL_PAGE, HTML), "captive-portal", SIGN_IN_FIRST),
])
def test_a_proxy_or_portal_answer_is_the_network_not_the_backend(
    tmp_path: Path, reply: Reply, network: str, reason: str
) -> None:
    with Peer() as proxy:
        proxy.answer(reply)
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector(proxy.url, token="t"))
        entry = outbox.put(make_bundle(4))
        [attempt] = outbox.flush().attempts
        outbox.close()
    assert attempt.state == "pending"
    after = outbox.get(entry.id)
    assert after.network == network and (after.last_error or "").startswith(reason)
    assert after.failure_kind is None and after.failure_streak == 0


def test_the_backends_own_502_still_counts_as_the_backend_failing(tmp_path: Path) -> None:
    with Peer() as backend:
        backend.answer(Reply(502, b'{"detail": "upstream down"}', {"Content-Type": "application/json"}))
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector(backend.url, token="t"))
        entry = outbox.put(make_bundle(5))
        outbox.flush()
        outbox.close()
    after = outbox.get(entry.id)
    assert after.network is None and after.failure_kind == "HTTP 502" and not after.waits_for_network


def test_a_later_answer_from_the_backend_clears_the_network_mark(tmp_path: Path) -> None:
    with Peer() as gate:
        gate.answer(Reply(302, b"", {"Location": "http://127.0.0.2:9/login"}),
                    Reply(422, b'{"detail": "description too long"}', {"Content-Type": "application/json"}))
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector(gate.url, token="t"))
        entry = outbox.put(make_bundle(6))
        outbox.flush()
        assert outbox.get(entry.id).network == "captive-portal"
        outbox.flush(force=True)
        outbox.close()
    after = outbox.get(entry.id)
    assert after.state is EntryState.DEAD and after.network is None
    assert [r.path for r in gate.received] == ["/api/v1/reports"] * 2


# ---------------------------------------------------------------- a network change
def test_a_network_change_tries_pending_reports_at_once_but_not_paused_ones(tmp_path: Path) -> None:
    from agent.connectors.base import AuthError
    from tests.outbox.helpers import ScriptedConnector

    clock = FakeClock()
    scripted = ScriptedConnector([AuthError("token refused"), ConnectionError("no route")])
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: scripted, clock=clock)
    paused = outbox.put(make_bundle(7), "signed-out")
    outbox.flush()
    pending = outbox.put(make_bundle(8), "unreachable")
    outbox.flush()
    assert outbox.get(paused.id).state is EntryState.PAUSED
    assert outbox.get(pending.id).state is EntryState.PENDING and outbox.get(pending.id).next_attempt_at > clock()

    assert outbox.flush().attempts == []  # nothing is due on this clock
    outbox.network_changed()
    result = outbox.flush()
    assert [a.report_id for a in result.attempts] == [pending.id] and len(result.delivered) == 1
    assert outbox.get(paused.id).state is EntryState.PAUSED
    assert outbox.flush().attempts == []  # the change was taken up by one pass
