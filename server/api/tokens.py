"""Tokens: who the caller is (any token), and the admin's list, create and revoke."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Path, Query

from server import models
from server.api.dependencies import Admin, AnyCaller, Context, api_router, error_responses
from server.api.views import at, when
from server.store import TokenRecord

log = logging.getLogger("showdesk.server")

router = api_router()


@router.get("/whoami", tags=["tokens"], summary="The calling token's name, role and site")
def whoami(caller: AnyCaller) -> models.Caller:
    return models.Caller(name=caller.name, role=caller.role, site=caller.site)


@router.get("/tokens", tags=["tokens"], summary="List tokens (never their secrets)", responses=error_responses(403))
def list_tokens(
    context: Context, _caller: Admin, include_revoked: Annotated[bool, Query()] = False
) -> list[models.TokenInfo]:
    return [_token_info(t) for t in context.store.list_tokens(include_revoked=include_revoked)]


@router.post(
    "/tokens",
    tags=["tokens"],
    summary="Create a token; its secret is shown once",
    status_code=201,
    responses=error_responses(403, 409),
)
def create_token(body: models.TokenCreate, context: Context, caller: Admin) -> models.TokenCreated:
    record, secret = context.store.create_token(body.name, body.role, body.site)
    log.info("%s token %r (%s) created by %s", record.role, record.name, record.id, caller.name)
    return models.TokenCreated(**_token_info(record).model_dump(), token=secret)


@router.delete(
    "/tokens/{name_or_id}",
    tags=["tokens"],
    summary="Revoke a token (effective on its next request)",
    responses=error_responses(403, 404),
)
def revoke_token(name_or_id: Annotated[str, Path(max_length=64)], context: Context, caller: Admin) -> models.TokenInfo:
    record = context.store.revoke_token(name_or_id)
    log.info("token %r (%s) revoked by %s", record.name, record.id, caller.name)
    return _token_info(record)


def _token_info(record: TokenRecord) -> models.TokenInfo:
    return models.TokenInfo(
        id=record.id,
        name=record.name,
        role=record.role,
        site=record.site,
        created_at=at(record.created_at),
        revoked_at=when(record.revoked_at),
    )
