"""The real ``showdesk server`` command on PostgreSQL: where the database is set, and what it refuses.

The behaviour of a running server on PostgreSQL is covered by the server tests themselves, which
run on both engines (tests/fixtures/server.py); these are about the settings and commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.store import Store
from server.store.engine_postgres import PASSWORD_ENV, PostgresDatabase, PostgresLocation, password_lookup
from tests.fixtures.server import REPO, ServerProcess
from tests.server.helpers import api, make_bundle, submit

PASSWORD = "s3cret-Pa55word"


def run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_the_configured_database_is_used_by_the_token_commands(postgres_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\ndatabase = "{postgres_url}"\n', encoding="utf-8")
    env = {"SHOWDESK_CONFIG": str(config)}
    data = str(tmp_path / "d")
    made = run_server("token", "create", "--role", "technician", "--name", "tech-pg", "--data", data, env=env)
    assert made.returncode == 0, made.stderr
    store = Store(tmp_path / "other", database=postgres_url)
    try:
        assert [t.name for t in store.list_tokens()] == ["tech-pg"]
        assert store.authenticate(made.stdout.strip()) is not None
    finally:
        store.close()
    assert not (tmp_path / "d" / "showdesk.db").exists()  # nothing went to SQLite on the side


def test_a_password_in_the_configured_database_is_refused_and_never_shown(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\ndatabase = "postgresql://desk:{PASSWORD}@db.example/tickets"\n', encoding="utf-8")
    result = run_server("token", "list", "--data", str(tmp_path / "d"), env={"SHOWDESK_CONFIG": str(config)})
    assert result.returncode == 5
    assert "server.database must not carry a password" in result.stderr
    assert PASSWORD_ENV in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_a_password_on_the_command_line_is_refused_before_serving(tmp_path: Path) -> None:
    result = run_server(
        "serve", "--port", "1", "--data", str(tmp_path / "d"), "--database",
        f"postgresql://desk:{PASSWORD}@127.0.0.1:1/tickets",
    )  # fmt: skip
    assert result.returncode == 1
    assert "must not carry a password" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_backup_on_postgresql_says_what_to_use_instead(postgres_url: str, tmp_path: Path) -> None:
    # Retention works on PostgreSQL (tests/server/test_retention.py); backup copies SQLite's file.
    result = run_server("backup", str(tmp_path / "dest"), "--data", str(tmp_path / "d"), "--database", postgres_url)
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr
    assert not (tmp_path / "dest").exists()


def test_the_password_comes_from_the_environment_and_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert password_lookup() == PASSWORD
    location = PostgresLocation.parse("postgresql://desk@db.example/tickets")
    database = PostgresDatabase(location, password=password_lookup())
    assert PASSWORD not in repr(database) + database.describe()


def test_a_server_on_postgresql_logs_where_the_database_is_and_serves(postgres_url: str, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", database=postgres_url).start()
    try:
        token = server.token("submitter")
        response = submit(server, token, make_bundle())
        assert response.status_code == 201, response.text
        listed = api(server, server.token("technician"), "GET", "/tickets").json()
        assert len(listed["tickets"]) == 1
    finally:
        server.stop()
    log = server.log_text()
    assert "database: PostgreSQL showdesk_test@127.0.0.1:" in log
    assert not (tmp_path / "data" / "showdesk.db").exists()
