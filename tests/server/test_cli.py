"""The server's command line: tokens while it runs, the hand-over file, backup, the data-dir lock."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests

from tests.fixtures.server import REPO, ServerProcess
from tests.server.helpers import api, make_bundle, submit


def test_tokens_are_managed_while_the_server_runs(server_process: ServerProcess) -> None:
    created = server_process.cli("token", "create", "--role", "technician", "--name", "tech-frank")
    token = created.stdout.strip()
    assert token.startswith("sdk_")
    assert token not in created.stderr
    assert api(server_process, token, "GET", "/whoami").json() == {
        "name": "tech-frank",
        "role": "technician",
        "site": None,
    }

    listed = json.loads(server_process.cli("token", "list", "--json").stdout)
    assert "tech-frank" in {t["name"] for t in listed}
    assert token not in server_process.cli("token", "list").stdout
    duplicate = server_process.cli("token", "create", "--role", "admin", "--name", "tech-frank", check=False)
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr

    server_process.cli("token", "revoke", "tech-frank")

    refused = api(server_process, token, "GET", "/whoami")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert "tech-frank" not in {t["name"] for t in json.loads(server_process.cli("token", "list", "--json").stdout)}
    everything = json.loads(server_process.cli("token", "list", "--json", "--all").stdout)
    assert any(t["name"] == "tech-frank" and t["revoked_at"] for t in everything)
    unknown = server_process.cli("token", "revoke", "nobody", check=False)
    assert unknown.returncode == 1
    assert "no active token" in unknown.stderr
    assert "GET /api/v1/whoami refused (401): unknown or revoked token" in server_process.log_text()
    assert token not in server_process.log_text()


def test_admin_manages_tokens_over_http(server_process: ServerProcess) -> None:
    admin = server_process.token("admin")
    made = api(
        server_process, admin, "POST", "/tokens", json={"name": "kiosk-west", "role": "submitter", "site": "west"}
    )
    assert made.status_code == 201
    secret = made.json()["token"]
    assert api(server_process, secret, "GET", "/whoami").json()["site"] == "west"
    assert "kiosk-west" in [t["name"] for t in api(server_process, admin, "GET", "/tokens").json()]
    assert all("token" not in t for t in api(server_process, admin, "GET", "/tokens").json())
    again = api(server_process, admin, "POST", "/tokens", json={"name": "kiosk-west", "role": "submitter"})
    assert again.status_code == 409
    assert api(server_process, admin, "DELETE", "/tokens/kiosk-west").status_code == 200
    assert api(server_process, secret, "GET", "/whoami").status_code == 401
    bad_name = api(server_process, admin, "POST", "/tokens", json={"name": "../evil", "role": "submitter"})
    assert bad_name.status_code == 422
    log = server_process.log_text()
    assert "submitter token 'kiosk-west'" in log and "token 'kiosk-west'" in log.split("created by", 1)[1]
    assert "revoked by" in log and secret not in log


def test_handover_file_is_private_fresh_and_removed_on_clean_stop(server_process: ServerProcess) -> None:
    path = server_process.handover_path
    first = server_process.handover()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["url"] == server_process.url
    assert first["pid"] == server_process.pid
    assert api(server_process, first["tokens"]["submitter"], "GET", "/whoami").json()["role"] == "submitter"
    assert api(server_process, first["tokens"]["technician"], "GET", "/whoami").json()["role"] == "technician"

    server_process.kill()
    assert path.exists()  # a crash cannot clean up; the next start replaces it
    server_process.start()
    second = server_process.handover()

    assert second["tokens"] != first["tokens"]
    assert api(server_process, first["tokens"]["technician"], "GET", "/whoami").status_code == 401
    assert api(server_process, second["tokens"]["technician"], "GET", "/whoami").status_code == 200
    assert server_process.stop() == 0
    assert not path.exists()
    assert "stopped cleanly" in server_process.log_text()
    for token in (*first["tokens"].values(), *second["tokens"].values()):
        assert token not in server_process.log_text()


def test_second_server_on_the_same_data_directory_is_refused(server_process: ServerProcess) -> None:
    twin = ServerProcess(server_process.data_dir, log_path=server_process.data_dir.parent / "twin.log")
    result = subprocess.run(twin.command(), capture_output=True, text=True, env=twin.env, cwd=REPO, timeout=60)
    assert result.returncode == 1
    assert "another ShowDesk server is using" in result.stderr
    assert requests.get(f"{server_process.url}/healthz", timeout=10).status_code == 200


def test_online_backup_is_a_servable_data_directory(server_process: ServerProcess, tmp_path: Path) -> None:
    submitter = server_process.token("submitter")
    bundles = [make_bundle(70 + i, steps=2) for i in range(3)]
    for bundle in bundles:
        assert submit(server_process, submitter, bundle).status_code == 201
    destination = tmp_path / "backup"

    result = server_process.cli("backup", str(destination))
    # Again into the same place: only what is new is copied.
    assert submit(server_process, submitter, make_bundle(80)).status_code == 201
    again = server_process.cli("backup", str(destination))

    assert "backed up 3 ticket(s)" in result.stderr
    assert "backed up 4 ticket(s)" in again.stderr
    assert "already there" in again.stderr
    restored = ServerProcess(destination)
    try:
        restored.start()
        technician = restored.token("technician")
        listed = api(restored, technician, "GET", "/tickets").json()["tickets"]
        assert len(listed) == 4
        for bundle in bundles:
            detail = api(restored, technician, "GET", f"/tickets/{bundle.report.id}").json()
            for step in detail["steps"]:
                data = requests.get(
                    step["image"]["url"].replace(server_process.url, restored.url),
                    headers=restored.auth(technician),
                    timeout=10,
                ).content
                assert hashlib.sha256(data).hexdigest() == step["image"]["sha256"]
    finally:
        restored.stop()


def test_backup_of_a_missing_data_directory_fails_with_a_reason(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "backup", str(tmp_path / "dest"), "--data", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 1
    assert "holds no ShowDesk server database" in result.stderr


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0
    for word in ("serve", "token", "backup"):
        assert word in result.stdout
    serve_help = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert "--public-url" in serve_help.stdout
    assert "--max-body-mb" in serve_help.stdout


def test_public_url_shapes_ticket_links(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(["--public-url", "https://help.example.test/"])
    ticket = submit(server, server.token("submitter"), make_bundle(90)).json()["ticket"]
    # The person's link: the public address, then an unguessable capability (43 base64url characters).
    assert re.fullmatch(r"https://help\.example\.test/t/[A-Za-z0-9_-]{43}(\?lang=(en|de))?", ticket["url"])


class _DefaultCommandServer(ServerProcess):
    """Started as `python -m server --port …`, without the word `serve`."""

    def command(self) -> list[str]:
        return [arg for arg in super().command() if arg != "serve"]


def test_serving_is_the_default_command(tmp_path: Path) -> None:
    server = _DefaultCommandServer(tmp_path / "data")
    try:
        server.start()
        assert requests.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"
        assert f"data directory: {server.data_dir}" in server.log_text()
    finally:
        server.stop()
