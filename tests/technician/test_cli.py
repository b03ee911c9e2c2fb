"""``showdesk tech``: configuration mistakes are named, and the window signs in with the keyring's token."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from agent.config import load_config
from agent.credentials import forget_token, store_token
from technician.cli import EXIT_CONFIG, EXIT_OK, build_window, main
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import ReportSender, numbers, wait_loaded


def test_help_and_configuration_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tech", "--help"]) == EXIT_OK
    assert "Technician mode" in capsys.readouterr().out

    assert main(["--backend", "nope"]) == EXIT_CONFIG
    assert "no backend named 'nope'" in capsys.readouterr().err

    config = tmp_path / "config.toml"
    config.write_text('[tech]\nsound = "loud"\n', encoding="utf-8")
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config))
    assert main([]) == EXIT_CONFIG
    assert "[tech] sound must be true or false" in capsys.readouterr().err


def test_the_window_signs_in_with_the_technician_token_from_the_keyring(
    qtbot: QtBot,
    server_process: ServerProcess,
    reporter: ReportSender,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticket = reporter.send()
    config_path = tmp_path / "config.toml"
    config_path.write_text(f'[backend]\nurl = "{server_process.url}"\n\n[tech]\nsite = "HQ"\n', encoding="utf-8")
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_path))
    store_token(server_process.url, server_process.token("technician", name="keyring.tech"), role="technician")
    try:
        window = build_window(load_config(), tray=False)
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.session.signed_in, timeout=15_000) as signed_in:
            window.start()
        assert signed_in.args[0].name == "keyring.tech"
        assert window.session.settings.site == "HQ"
        wait_loaded(qtbot, window)
        assert numbers(window) == [ticket.number]
        window.shutdown()
    finally:
        forget_token(server_process.url, role="technician")
