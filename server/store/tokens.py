"""API tokens: made, listed, revoked, checked on every request; the local hand-over pair.

A token's secret is shown once when it is made; the database keeps only its hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

from server.store.connection import Connection, Database, sqlite_errors
from server.store.records import ROLES, NotFoundError, StoreError, TokenNameTakenError, TokenRecord
from server.store.rows import now, to_token

HANDOVER_TOKEN_NAMES: Final[dict[str, str]] = {
    "submitter": "local-handover-submitter",
    "technician": "local-handover-technician",
}
TOKEN_PREFIX: Final = "sdk_"  # noqa: S105 - a prefix that marks ShowDesk tokens, not a secret

_TOKEN_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def hash_token(secret: str) -> str:
    """Tokens are 32 random bytes, so a plain sha256 is enough to store them safely."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_token_name(name: str) -> str:
    if not _TOKEN_NAME_RE.match(name):
        raise StoreError(
            f"token name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


class Tokens:
    """The tokens of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def create_token(self, name: str, role: str, site: str | None = None) -> tuple[TokenRecord, str]:
        """Make a token; returns its record and the secret, which is not stored and cannot be shown again."""
        check_token_name(name)
        if role not in ROLES:
            raise StoreError(f"role {role!r} is not one of {', '.join(ROLES)}")
        with self._database.write(notify=False) as conn:
            return _insert_token(self._database, conn, name, role, site)

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRecord]:
        sql = "SELECT id, name, role, site, created_at, revoked_at FROM tokens"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        rows = self._database.connection().execute(sql + " ORDER BY created_at, id").fetchall()
        return [to_token(row) for row in rows]

    def revoke_token(self, name_or_id: str) -> TokenRecord:
        with self._database.write(notify=False) as conn:
            row = conn.execute(
                "SELECT id, name, role, site, created_at, revoked_at FROM tokens "
                "WHERE revoked_at IS NULL AND (id = ? OR name = ?)",
                (name_or_id, name_or_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no active token with the name or id {name_or_id!r}")
            revoked_at = now()
            conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (revoked_at, row["id"]))
        record = to_token(row)
        return TokenRecord(record.id, record.name, record.role, record.site, record.created_at, revoked_at)

    def authenticate(self, secret: str) -> TokenRecord | None:
        """The active token with this secret, looked up on every request so revocation is immediate."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        with sqlite_errors():
            row = (
                self._database.connection()
                .execute(
                    "SELECT id, name, role, site, created_at, revoked_at FROM tokens "
                    "WHERE token_hash = ? AND revoked_at IS NULL",
                    (hash_token(secret),),
                )
                .fetchone()
            )
        return None if row is None else to_token(row)

    def rotate_handover_tokens(self) -> dict[str, str]:
        """Revoke the previous local hand-over tokens and make fresh ones; returns role → secret."""
        made: dict[str, str] = {}
        with self._database.write(notify=False) as conn:
            revoked_at = now()
            for role, name in HANDOVER_TOKEN_NAMES.items():
                conn.execute(
                    "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (revoked_at, name)
                )
                _record, secret = _insert_token(self._database, conn, name, role, None)
                made[role] = secret
        return made

    def revoke_handover_tokens(self, secrets_by_role: dict[str, str]) -> None:
        """Revoke the hand-over tokens made at start (on a clean shutdown)."""
        with self._database.write(notify=False) as conn:
            revoked_at = now()
            for secret in secrets_by_role.values():
                conn.execute(
                    "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                    (revoked_at, hash_token(secret)),
                )


def _insert_token(
    database: Database, conn: Connection, name: str, role: str, site: str | None) -> tuple[TokenRecord, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(6)
    created_at = now()
    try:
        conn.execute(
            "INSERT INTO tokens (id, name, role, site, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (token_id, name, role, site, hash_token(secret), created_at),
        )
    except Exception as exc:
        if not database.is_integrity_error(exc):
            raise
        raise TokenNameTakenError(f"a token named {name!r} already exists; revoke it first") from exc
    return TokenRecord(token_id, name, role, site, created_at, None), secret  # type: ignore[arg-type]
