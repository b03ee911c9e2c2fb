"""What the route modules share: the request context, auth, bounded inputs, permits, error documentation.

Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in the
thread pool, a thread hop each. These only read memory or make one indexed SQLite read
(WAL readers never wait for writers), which is cheaper than the hop.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from agent.schema import MAX_JSON_DEPTH, MAX_JSON_INTEGER, JSONFormatError, load_json_object
from server import models
from server.api.context import AppContext
from server.ratelimit import retry_after_header
from server.store import NotFoundError, TicketRow, TokenRecord

# Moments the API accepts: what fits a Unix timestamp and a four-digit year.
MIN_EPOCH_SECONDS: Final = 0.0
MAX_EPOCH_SECONDS: Final = datetime(9999, 12, 30, tzinfo=UTC).timestamp()
# The store reads ticket numbers of up to 12 digits (SD-999999999999).
_TICKET_NUMBER = re.compile(r"^SD-([0-9]+)$", re.IGNORECASE)
MAX_TICKET_NUMBER_DIGITS: Final = 12
_ASCII_DIGITS = re.compile(r"^[0-9]+$")

_ERROR_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "the request is malformed (Content-Length, an incomplete body)",
    401: "missing, unknown or revoked token",
    403: "the token's role may not make this call",
    404: "no such ticket, file or token (or not one this token may see)",
    409: "the change is not allowed in the ticket's current state",
    413: "the request body is over the limit",
    415: "the body is not multipart/form-data",
    422: "the input does not validate; the detail names the field or bound",
    429: "this token is over its rate limit; retry after Retry-After seconds",
    503: "the database is busy; retry after Retry-After seconds",
    507: "the server's disk is full; nothing was stored; retry later",
}
# What any /api/v1 call may answer: refused before the handler runs (400, 401, 413, 422) or by
# the store (503, 507). Each route adds its own (403, 404, 409, 415, 429).
API_ERRORS: Final = (400, 401, 413, 422, 503, 507)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries for these error statuses (all answer ``{"detail": ...}``)."""
    return {code: {"model": models.ErrorBody, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}


class BoundedJSONRoute(APIRoute):
    """Checks a JSON body's nesting depth and integers (agent.schema bounds) before FastAPI parses it.

    FastAPI's parser recurses once per level, and Python refuses integers over 4,300 digits only
    after reading them; both end in FastAPI's catch-all 400 "error parsing the body" (or, deeper
    down, a RecursionError). Every JSON body here is one small object, so the bounds that the
    report manifest has apply as they are: 422 naming the bound.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def bounded(request: Request) -> Response:
            body = await request.body()  # Starlette keeps it: FastAPI's own read gets the same bytes
            if body:
                try:
                    load_json_object(body, what="the JSON body", max_depth=MAX_JSON_DEPTH)
                except JSONFormatError as exc:
                    raise HTTPException(422, str(exc)) from None
            return await handler(request)

        return bounded


def api_router() -> APIRouter:
    """A route module's router: every /api/v1 route checks its JSON body's bounds first."""
    return APIRouter(route_class=BoundedJSONRoute)


# ---------------------------------------------------------------- context and auth
async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]
_bearer = HTTPBearer(auto_error=False, description="a ShowDesk token: `showdesk server token create`")


async def authenticated(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> TokenRecord:
    if credentials is None:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)", {"WWW-Authenticate": "Bearer"})
    record = context.store.authenticate(credentials.credentials)
    if record is None:
        raise HTTPException(401, "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
    request.state.token_name = record.name
    return record


def _role(role: str) -> Callable[[TokenRecord], Awaitable[TokenRecord]]:
    async def check(caller: Annotated[TokenRecord, Depends(authenticated)]) -> TokenRecord:
        if not caller.may(role):
            raise HTTPException(403, f"this call needs a {role} token; this one is a {caller.role} token")
        return caller

    return check


AnyCaller = Annotated[TokenRecord, Depends(authenticated)]
Technician = Annotated[TokenRecord, Depends(_role("technician"))]
Admin = Annotated[TokenRecord, Depends(_role("admin"))]


def visible_ticket(context: AppContext, caller: TokenRecord, key: str) -> TicketRow:
    """The ticket, if this caller may see it; a submitter sees only its own (others are 404, not 403)."""
    ticket = context.store.get_ticket(key)
    check_owner(caller, ticket, key)
    return ticket


def check_owner(caller: TokenRecord, ticket: TicketRow, key: str) -> None:
    if not caller.may("technician") and ticket.submitted_by != caller.name:
        raise NotFoundError(f"no ticket {key!r}")


def take_permit(context: AppContext, kind: str, caller: TokenRecord) -> None:
    """Spend one of the caller's permits for ``kind``, or refuse with 429 and when to come back."""
    wait = context.limiter.acquire(kind, caller.id)
    if wait > 0:
        limit = context.limiter.limit(kind)
        raise HTTPException(
            429,
            f"token {caller.name!r} is over its rate limit of {limit.per_minute:g} per minute "
            f"(bursts of {limit.burst}); retry in {retry_after_header(wait)} s",
            {"Retry-After": retry_after_header(wait)},
        )


# ---------------------------------------------------------------- bounded inputs
def _check_ticket_key(key: str) -> str:
    number = _TICKET_NUMBER.match(key)
    if number and len(number.group(1)) > MAX_TICKET_NUMBER_DIGITS:
        highest = "9" * MAX_TICKET_NUMBER_DIGITS
        raise ValueError(f"a ticket number has at most {MAX_TICKET_NUMBER_DIGITS} digits (SD-{highest})")
    return key


TicketKey = Annotated[
    str,
    Path(description="ticket id (report UUID) or number (SD-1001)", max_length=64),
    AfterValidator(_check_ticket_key),
]


def bounded_id(value: str, what: str) -> int | None:
    """A decimal id within SQLite's integer range; None when it is not a decimal number at all.

    ``str.isdigit`` is not enough: it is true for "²" and other digits ``int`` refuses, and SQLite
    overflows past 64 bits; both used to end in a 500.
    """
    if not _ASCII_DIGITS.match(value):
        return None
    if len(value.lstrip("0")) > len(str(MAX_JSON_INTEGER)) or int(value) > MAX_JSON_INTEGER:
        raise HTTPException(422, f"{what} is beyond the bound of {MAX_JSON_INTEGER}")
    return int(value)


def epoch(moment: datetime) -> float:
    """Seconds since 1970 for a query's moment, refusing (422) what later arithmetic cannot hold."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError):
        seconds = float("nan")
    if not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise HTTPException(422, f"{moment.isoformat()} is outside 1970-01-01 to 9999-12-30 (UTC)")
    return seconds
