"""Delivery on the networks remote workers use: a captive portal, a web page in the API's place, a proxy.

The backend is the real built-in server on 127.0.0.1; the network in between is a ``Peer``
standing in for the hotel's captive portal: until the person "signs in" it answers every
request with a redirect to its own sign-in page on another port (a second ``Peer`` that
records what reaches it), afterwards it passes requests through to the server.

While a report waits for the portal, the outbox looks every ``NETWORK_RECHECK_SECONDS`` with the
connector's probe (a GET without the token) and uploads the report only once the probe gets
through; those tests drive the outbox's clock (``FakeClock``) and count what reached the portal.
"""

from __future__ import annotations

import logging
import random
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.connectors.base import Connector
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.common import PROXY_SIGN_IN, SIGN_IN_FIRST
from agent.outbox import (
    ATTENTION_AFTER_ATTEMPTS,
    ATTENTION_AFTER_SECONDS,
    NETWORK_RECHECK_SECONDS,
    EntryState,
    Outbox,
    Sender,
)
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

    def uploads(self) -> int:
        """Reports that reached the portal's host (each a POST with the whole report as its body)."""
        return sum(1 for r in self.gate.received if r.method == "POST")

    def uploaded_bytes(self) -> int:
        return sum(len(r.body) for r in self.gate.received)

    def looked(self, count: int) -> Callable[[], bool]:
        return lambda: len(self.looks()) >= count

    def looks(self) -> list[dict[str, str]]:
        """The headers of each probe that reached the portal's host (a GET, no body)."""
        return [r.headers for r in self.gate.received if r.method == "GET"]


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


class CannotTell(BuiltinConnector):
    """A connector without a probe of its own: the base's default, which cannot tell cheaply."""

    network_clear = Connector.network_clear


def test_behind_a_captive_portal_the_backoff_alone_delivers_after_the_sign_in_when_the_connector_cannot_tell(
    shared_server: Any, tmp_path: Path
) -> None:
    with CaptivePortal(shared_server.url) as portal:
        # The largest random draw: each backoff is its shortest (2 s, 4 s… minus a quarter).
        outbox = Outbox(tmp_path / "outbox",
                        connector_for=lambda _n: CannotTell(portal.url, token=token(shared_server, "submitter")),
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
            assert portal.looks() == []  # nothing to probe with: every try is the whole report
            portal.signed_in.set()
            wait_until(lambda: outbox.receipt(report_id) is not None, "delivery on the backoff", DEADLINE_SECONDS)
        finally:
            assert sender.stop(10)
        assert portal.login_page.received == []
    assert tickets_for(shared_server, report_id) == 1


class _HighRandom(random.Random):
    def random(self) -> float:
        return 1.0


class _NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


# ---------------------------------------------------------------- a sign-in the OS never hears of
def test_after_a_sign_in_the_os_never_hears_of_the_probe_sends_the_report_within_its_cadence(
    shared_server: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    with CaptivePortal(shared_server.url) as portal:
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(shared_server, portal.url),
                        clock=clock)
        # No network watcher: nothing but the outbox's own cadence can notice the sign-in.
        sender = Sender(outbox, max_idle=0.2, watch_network=False)
        bundle = make_bundle(11)
        report_id = str(bundle.report.id)
        outbox.put(bundle)
        sender.start()
        try:
            wait_until(lambda: outbox.get(report_id).attempts >= 1, "the first try", DEADLINE_SECONDS)
            first_upload = portal.uploaded_bytes()
            assert portal.uploads() == 1 and first_upload > bundle.total_bytes() // 2
            # The portal stays up for a minute of the outbox's clock: its backoff alone would have sent
            # the whole report again at 2, 6, 14 and 30 s; the probe looks every NETWORK_RECHECK_SECONDS.
            for looks in (1, 2, 3):
                clock.advance(NETWORK_RECHECK_SECONDS)
                wait_until(portal.looked(looks), f"look number {looks}", DEADLINE_SECONDS)
            assert len(portal.looks()) == 3
            assert portal.uploads() == 1 and portal.uploaded_bytes() == first_upload
            waiting = outbox.get(report_id)
            assert waiting.attempts == 1 and waiting.waits_for_network and waiting.last_error == SIGN_IN_FIRST
            # The probe carries no credential of any kind.
            assert all("Authorization" not in h and "Cookie" not in h for h in portal.looks())

            portal.signed_in.set()  # in a browser; no interface, address or route changes
            signed_in_at = clock()
            clock.advance(NETWORK_RECHECK_SECONDS)
            wait_until(lambda: outbox.receipt(report_id) is not None, "delivery on the probe's cadence",
                       DEADLINE_SECONDS)
        finally:
            assert sender.stop(10)
        receipt = outbox.receipt(report_id)
        assert receipt is not None and receipt.attempts == 2
        assert receipt.delivered_at - signed_in_at <= NETWORK_RECHECK_SECONDS
        assert portal.uploads() == 2 and portal.gate.forwarded == 2  # the clear probe, then the report
        assert outbox.list() == []
        assert portal.login_page.received == []
    assert tickets_for(shared_server, report_id) == 1


def test_a_report_long_in_its_backoff_goes_on_the_probes_cadence_after_the_sign_in(
    shared_server: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    with CaptivePortal(shared_server.url) as portal:
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(shared_server, portal.url),
                        clock=clock, rng=_NoJitter())
        entry = outbox.put(make_bundle(12))
        for _ in range(9):  # "Send now", again and again: each a whole try, each met by the portal
            outbox.flush(force=True)
        waiting = outbox.get(entry.id)
        assert waiting.attempts == 9 and waiting.next_attempt_at - clock() == 512.0
        uploads = portal.uploads()

        clock.advance(NETWORK_RECHECK_SECONDS)
        assert outbox.flush().attempts == []  # the probe looked; the report stayed home
        assert portal.uploads() == uploads and len(portal.looks()) == 1

        portal.signed_in.set()
        clock.advance(NETWORK_RECHECK_SECONDS)
        [receipt] = outbox.flush().delivered
        outbox.close()
    assert receipt.report_id == entry.id and receipt.attempts == 10
    assert clock() < waiting.next_attempt_at - 400  # minutes before its backoff would have tried
    assert tickets_for(shared_server, entry.id) == 1


def test_a_portal_that_lets_the_probe_through_leaves_the_report_on_its_backoff_until_the_network_changes(
    shared_server: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    signed_in = threading.Event()
    # A portal that stops only uploads: the probe's GET goes through, the report's POST is redirected.
    with Peer() as login, Peer(upstream=shared_server.url,
                               reply_when=lambda r: r.method == "POST" and not signed_in.is_set()) as gate:
        gate.answer(*[Reply(302, PORTAL_PAGE, {**HTML, "Location": f"{login.url}/login"})] * 20)
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(shared_server, gate.url),
                        clock=clock, rng=_NoJitter())

        def uploads() -> int:
            return sum(1 for r in gate.received if r.method == "POST")

        entry = outbox.put(make_bundle(13))
        for _ in range(5):
            outbox.flush(force=True)
        assert outbox.get(entry.id).next_attempt_at - clock() == 32.0
        clock.advance(NETWORK_RECHECK_SECONDS)
        outbox.flush()  # the probe says clear, and the report meets the portal again
        assert uploads() == 6
        misled = outbox.get(entry.id)
        assert misled.attempts == 6 and misled.network == "captive-portal"
        assert misled.next_attempt_at - clock() == 64.0

        # The probe's "clear" is no use on this network: the report goes on its backoff, not every 20 s.
        clock.advance(NETWORK_RECHECK_SECONDS)
        assert outbox.flush().attempts == [] and uploads() == 6
        clock.advance(64.0 - NETWORK_RECHECK_SECONDS)
        assert [a.state for a in outbox.flush().attempts] == ["pending"] and uploads() == 7

        # Signed in, and the laptop joins another network: the probe is trusted again, and it goes.
        signed_in.set()
        outbox.network_changed()
        [receipt] = outbox.flush().delivered
        outbox.close()
        assert login.received == []
    assert receipt.report_id == entry.id
    assert tickets_for(shared_server, entry.id) == 1


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
