"""Liveness: the one call that needs no token."""

from __future__ import annotations

from fastapi import APIRouter

from server import models
from server.settings import version

# Outside /api/v1: no token, no JSON body, none of the API's error answers.
router = APIRouter()


@router.get("/healthz", tags=["health"], summary="Liveness (no token needed)")
async def healthz() -> models.Health:
    return models.Health(status="ok", version=version())
