"""The `showdesk` command as a script sees it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import __version__


def showdesk(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "showdesk", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    result = showdesk("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"showdesk {__version__}"


def test_help_lists_commands_and_exit_codes() -> None:
    result = showdesk("--help")
    assert result.returncode == 0
    for word in ("capture", "submit", "outbox", "sysinfo", "login", "config", "server", "queued"):
        assert word in result.stdout


def test_no_command_is_a_usage_error() -> None:
    assert showdesk().returncode == 2


def test_capture_needs_a_target() -> None:
    result = showdesk("capture")
    assert result.returncode == 2
    assert "--output" in result.stderr or "-o" in result.stderr


def test_bad_region_is_explained() -> None:
    result = showdesk("capture", "--region", "1,2,3", "-o", "x.showdesk")
    assert result.returncode == 2
    assert "X,Y,WIDTH,HEIGHT" in result.stderr


def test_submit_of_a_file_that_is_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.showdesk"
    junk.write_bytes(b"definitely not a zip")
    result = showdesk("submit", str(junk))
    assert result.returncode == 7
    assert "not a ShowDesk bundle" in result.stderr


def test_config_show_tells_where_each_value_came_from(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[server]\nport = 9123\n")
    result = showdesk("config", "show", "--json", env={"SHOWDESK_CONFIG": str(user), "SHOWDESK_URL": "http://x:1"})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["server.port"] == {"value": 9123, "source": str(user)}
    assert shown["backend.url"] == {"value": "http://x:1", "source": "environment SHOWDESK_URL"}


def test_config_show_names_the_user_file_even_before_it_exists(tmp_path: Path) -> None:
    user = tmp_path / "not-yet" / "config.toml"
    machine = tmp_path / "machine.toml"
    result = showdesk("config", "show", env={"SHOWDESK_CONFIG": str(user), "SHOWDESK_MACHINE_CONFIG": str(machine)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"user file: {user}  (does not exist; the layer is empty, set by SHOWDESK_CONFIG)" in lines
    assert f"machine file: {machine}  (does not exist; the layer is empty, set by SHOWDESK_MACHINE_CONFIG)" in lines

    user.parent.mkdir()
    user.write_text("[server]\nport = 9124\n")
    lines = showdesk("config", "show", env={"SHOWDESK_CONFIG": str(user)}).stdout.splitlines()
    assert f"user file: {user}  (in use, set by SHOWDESK_CONFIG)" in lines
    assert any(line.startswith("server.port") and line.endswith(f"({user})") for line in lines)


def test_config_show_of_a_broken_user_file_still_says_where_it_is(tmp_path: Path) -> None:
    user = tmp_path / "broken.toml"
    user.write_text("[server\n")
    result = showdesk("config", "show", env={"SHOWDESK_CONFIG": str(user)})
    assert result.returncode == 5
    assert f"user file: {user}  (in use, set by SHOWDESK_CONFIG)" in result.stdout.splitlines()
    assert "not valid TOML" in result.stderr


def test_config_check_names_each_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "x"\n[bogus]\nkey = 1\n')
    result = showdesk("config", "check", str(bad))
    assert result.returncode == 5
    assert "server.port must be int" in result.stdout
    assert "unknown key 'bogus.key'" in result.stdout
    good = tmp_path / "good.toml"
    good.write_text("[server]\nport = 8000\n")
    assert showdesk("config", "check", str(good)).returncode == 0


def test_a_broken_config_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    result = showdesk("sysinfo", env={"SHOWDESK_CONFIG": str(bad)})
    assert result.returncode == 5
    assert "not valid TOML" in result.stderr


def test_login_stores_the_token_in_the_keyring_only(tmp_path: Path) -> None:
    keyring_file = tmp_path / "keyring.json"
    env = {"SHOWDESK_TEST_KEYRING": str(keyring_file)}
    result = showdesk("login", "https://helpdesk.example.test/", "--token-stdin", stdin="tok-CANARY-42\n", env=env)
    assert result.returncode == 0, result.stderr
    assert "tok-CANARY-42" not in result.stdout + result.stderr
    assert "tok-CANARY-42" in keyring_file.read_text()
    assert showdesk("logout", "https://helpdesk.example.test", env=env).returncode == 0
    assert "tok-CANARY-42" not in keyring_file.read_text()


def test_login_without_a_keyring_says_so(tmp_path: Path) -> None:
    result = showdesk(
        "login",
        "https://helpdesk.example.test",
        "--token-stdin",
        stdin="abc\n",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 5
    assert "no OS keyring is available" in result.stderr


@pytest.mark.parametrize("stdin", ["\n", ""])
def test_login_with_an_empty_token_stores_nothing(stdin: str) -> None:
    result = showdesk("login", "https://helpdesk.example.test", "--token-stdin", stdin=stdin)
    assert result.returncode == 2


def test_command_line_log_lines_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from agent import cli

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    canary = "CANARY" + "7f3a9c1e5b2d4f60"
    try:
        cli._setup_logging("INFO")
        logging.getLogger("showdesk.test").warning("sending with Authorization: Bearer %s", canary)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    logged = capsys.readouterr().err
    assert "sending with Authorization: [scrubbed]" in logged
    assert canary not in logged
