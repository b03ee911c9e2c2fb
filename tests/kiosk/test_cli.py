"""``showdesk kiosk`` on the command line: checks, the PIN hash, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.settings import verify_pin


@pytest.fixture
def user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "user.toml"
    monkeypatch.setenv("SHOWDESK_CONFIG", str(path))
    return path


def test_hash_pin_prints_a_line_for_the_machine_wide_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": "480915")
    assert main(["kiosk", "--hash-pin"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('admin_pin_hash = "pbkdf2_sha256$')
    assert verify_pin("480915", line.split('"')[1])


def test_hash_pin_refuses_two_different_pins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["1234", "4321"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": next(answers))
    assert main(["kiosk", "--hash-pin"]) == 2
    assert "differ" in capsys.readouterr().err


def test_the_board_needs_a_site(user_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user_config.write_text("[kiosk]\n")
    assert main(["kiosk", "--board"]) == 5
    assert "[kiosk] site" in capsys.readouterr().err


def test_bad_arguments_are_usage_errors(user_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kiosk", "--screen", "40"]) == 2
    assert main(["kiosk", "--no-such-option"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_a_configuration_mistake_stops_the_kiosk_before_any_window(
    user_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_config.write_text('[kiosk]\ncolors = { primary = "blue" }\n')
    assert main(["kiosk", "--windowed"]) == 5
    assert "primary = 'blue' is not a colour" in capsys.readouterr().err
