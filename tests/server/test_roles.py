"""The role matrix: every endpoint × no token, a wrong token, a revoked token and each role."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.fixtures.server import ServerError, ServerProcess
from tests.server.helpers import Upload, make_bundle, submit

SITE = "matrix-site"
CALLERS = ("none", "unknown", "revoked", "submitter", "technician", "admin")
SUBMITTER = frozenset({"submitter", "technician", "admin"})
TECHNICIAN = frozenset({"technician", "admin"})
ADMIN = frozenset({"admin"})
_names = itertools.count()


@dataclass
class World:
    server: ServerProcess
    tokens: dict[str, str | None]
    ticket_id: str
    ticket_number: str
    file_id: str


@pytest.fixture(scope="module")
def world(shared_server: ServerProcess) -> Iterator[World]:
    """The tokens and the ticket the matrix works with, on the session's server of one engine.

    Random test order may make this fixture again for an engine whose server lives on, so its
    tokens are revoked when it ends: their names are free for the next one.
    """
    revoked = shared_server.token("submitter", name="matrix-revoked")
    shared_server.cli("token", "revoke", "matrix-revoked")
    tokens: dict[str, str | None] = {
        "none": None,
        "unknown": "sdk_" + "A" * 43,
        "revoked": revoked,
        "submitter": shared_server.token("submitter", name="matrix-kiosk", site=SITE),
        "technician": shared_server.token("technician", name="matrix-tech"),
        "admin": shared_server.token("admin", name="matrix-admin"),
    }
    response = submit(shared_server, tokens["submitter"], make_bundle(500, site=SITE, walk_up=True, kind="kiosk"))
    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    detail = requests.get(
        f"{shared_server.api}/tickets/{ticket['id']}", headers=shared_server.auth(str(tokens["technician"])), timeout=10
    ).json()
    yield World(shared_server, tokens, ticket["id"], ticket["number"], detail["steps"][0]["image"]["id"])
    for name in ("matrix-kiosk", "matrix-tech", "matrix-admin"):
        with contextlib.suppress(ServerError):  # a test may have revoked it already
            shared_server.cli("token", "revoke", name)


@dataclass(frozen=True)
class Call:
    method: str
    path: Callable[[World], str]
    allowed: frozenset[str]
    ok: int
    json: Callable[[World], dict[str, Any]] | None = None
    report: bool = False
    path_if_refused: str | None = None


def _fresh_token_name(world: World) -> str:
    name = f"matrix-victim-{next(_names)}"
    world.server.token("submitter", name=name)
    return name


CALLS: dict[str, Call] = {
    "submit report": Call("POST", lambda w: "/reports", SUBMITTER, 201, report=True),
    "record self-help": Call("POST", lambda w: "/self-help", SUBMITTER, 201, json=lambda w: {"article": "restart"}),
    "whoami": Call("GET", lambda w: "/whoami", SUBMITTER, 200),
    "list tickets": Call("GET", lambda w: "/tickets", SUBMITTER, 200),
    "get own ticket": Call("GET", lambda w: f"/tickets/{w.ticket_id}", SUBMITTER, 200),
    "queue place": Call("GET", lambda w: f"/tickets/{w.ticket_id}/queue", SUBMITTER, 200),
    "download by id": Call("GET", lambda w: f"/files/{w.file_id}", SUBMITTER, 200),
    "download by path": Call("GET", lambda w: f"/tickets/{w.ticket_number}/files/steps/001.png", SUBMITTER, 200),
    "changes feed": Call("GET", lambda w: "/changes", SUBMITTER, 200),
    "site queue board": Call("GET", lambda w: f"/queue/{SITE}", SUBMITTER, 200),
    "set status": Call(
        "POST", lambda w: f"/tickets/{w.ticket_id}/status", TECHNICIAN, 200, json=lambda w: {"status": "open"}
    ),
    "assign": Call(
        "POST", lambda w: f"/tickets/{w.ticket_id}/assign", TECHNICIAN, 200, json=lambda w: {"assignee": "me"}
    ),
    "add note": Call("POST", lambda w: f"/tickets/{w.ticket_id}/notes", TECHNICIAN, 201, json=lambda w: {"text": "hi"}),
    "mark served": Call("POST", lambda w: f"/tickets/{w.ticket_id}/queue/served", TECHNICIAN, 200),
    "call next": Call("POST", lambda w: f"/queue/{SITE}/next", TECHNICIAN, 200),
    "stats": Call("GET", lambda w: "/stats", TECHNICIAN, 200),
    "list tokens": Call("GET", lambda w: "/tokens", ADMIN, 200),
    "create token": Call(
        "POST",
        lambda w: "/tokens",
        ADMIN,
        201,
        json=lambda w: {"name": f"matrix-made-{next(_names)}", "role": "submitter"},
    ),
    "revoke token": Call(
        "DELETE", lambda w: f"/tokens/{_fresh_token_name(w)}", ADMIN, 200, path_if_refused="/tokens/matrix-admin"
    ),
}


@pytest.mark.parametrize(("call_name", "caller"), list(itertools.product(sorted(CALLS), CALLERS)))
def test_role_matrix(world: World, call_name: str, caller: str) -> None:
    call = CALLS[call_name]
    token = world.tokens[caller]
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    expected = 401 if caller in ("none", "unknown", "revoked") else call.ok if caller in call.allowed else 403

    if call.report:
        response = submit(world.server, token, Upload.of(make_bundle(600 + next(_names))))
    else:
        refused_path = call.path_if_refused if caller not in call.allowed else None
        path = refused_path or call.path(world)
        response = requests.request(
            call.method,
            f"{world.server.api}{path}",
            headers=headers,
            json=None if call.json is None else call.json(world),
            timeout=10,
        )

    assert response.status_code == expected, response.text
    if expected in (401, 403):
        assert response.json()["detail"]
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    if call_name == "revoke token" and caller not in call.allowed:
        # The admin token named in a refused revocation is still alive.
        whoami = requests.get(
            f"{world.server.api}/whoami", headers={"Authorization": f"Bearer {world.tokens['admin']}"}, timeout=10
        )
        assert whoami.status_code == 200


def test_health_needs_no_token(shared_server: ServerProcess) -> None:
    assert requests.get(f"{shared_server.url}/healthz", timeout=10).json()["status"] == "ok"


def test_submitter_cannot_see_another_sites_board_or_others_tickets(world: World) -> None:
    other = world.server.token("submitter", name=f"matrix-other-{next(_names)}", site="elsewhere")
    headers = world.server.auth(other)

    assert requests.get(f"{world.server.api}/queue/{SITE}", headers=headers, timeout=10).status_code == 403
    for path in (f"/tickets/{world.ticket_id}", f"/tickets/{world.ticket_id}/queue", f"/files/{world.file_id}"):
        assert requests.get(f"{world.server.api}{path}", headers=headers, timeout=10).status_code == 404
