"""Settings: test connection against the real server, enrolment into the (test) keyring, saving, start at login."""

from __future__ import annotations

import http.client
import os
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from agent.config import BackendConfig, load_config
from agent.credentials import token_for
from agent.enrolment import make_enrolment_code, make_enrolment_link
from agent.laptop.hotkey import HotkeyStatus
from agent.laptop.settings_dialog import SettingsDialog, check_backend, hotkey_help
from agent.laptop.settings_store import (
    AgentSettings,
    SettingsError,
    autostart_path,
    load_agent_settings,
    migrate_agent_proxy,
    parse_enrolment,
    save_agent_settings,
    set_autostart,
    to_toml,
)
from tests.fixtures.server import ServerProcess, free_port


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user config file and XDG config home of this test's own."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("SHOWDESK_CONFIG", str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return path


AVAILABLE = HotkeyStatus(True, "Press Ctrl+Alt+P anywhere to report a problem.")


def dialog_for(qtbot: QtBot, url: str, hotkey_status: HotkeyStatus = AVAILABLE) -> SettingsDialog:
    dialog = SettingsDialog(AgentSettings(backend_url=url), hotkey_status=hotkey_status)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def run_test(dialog: SettingsDialog, qtbot: QtBot) -> str:
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=20_000)
    return dialog.test_result.text()


def test_test_connection_explains_an_unreachable_help_desk(qtbot: QtBot) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    dialog = dialog_for(qtbot, url)
    text = run_test(dialog, qtbot)
    assert text.startswith("✘ Cannot reach " + url)
    assert "nothing is listening" in text and "VPN" in text


def test_test_connection_then_enrolment_signs_in(
    qtbot: QtBot, server_process: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for a help desk on another machine: no local hand-over file gives a token.
    monkeypatch.setenv("SHOWDESK_RUNTIME_DIR", str(tmp_path / "elsewhere"))
    dialog = dialog_for(qtbot, server_process.url)
    text = run_test(dialog, qtbot)
    assert text.startswith(f"✘ Connected to {server_process.url}")
    assert "you are not signed in" in text

    token = server_process.token("submitter")
    qtbot.keyClicks(dialog.enrolment_edit, make_enrolment_code(server_process.url, token))
    with qtbot.waitSignal(dialog.signed_in) as signed:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert signed.args == [server_process.url]
    assert token_for(BackendConfig("default", "builtin", server_process.url)) == token
    assert dialog.sign_in_state.text() == f"Signed in to {server_process.url}."
    assert dialog.enrolment_edit.text() == ""
    text = run_test(dialog, qtbot)
    assert text.startswith(f"✔ Connected to {server_process.url}") and text.endswith("You are signed in.")

    qtbot.mouseClick(dialog.sign_out_button, Qt.MouseButton.LeftButton)
    assert token_for(BackendConfig("default", "builtin", server_process.url)) != token


def test_a_refused_token_is_explained(server_process: ServerProcess) -> None:
    from agent.credentials import store_token

    store_token(server_process.url, "sdk_not-a-real-token")
    ok, text = check_backend(BackendConfig("default", "builtin", server_process.url))
    assert not ok and "refused the sign-in" in text


def test_a_bad_enrolment_says_what_is_wrong(qtbot: QtBot) -> None:
    dialog = dialog_for(qtbot, "http://127.0.0.1:9")
    qtbot.keyClicks(dialog.enrolment_edit, "SDE1-%%%")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert "damaged" in dialog.problem_label.text()
    assert dialog.sign_in_state.text().startswith("Not signed in")


def test_save_writes_the_user_file_and_keeps_what_else_it_holds(qtbot: QtBot, own_config: Path) -> None:
    own_config.parent.mkdir(parents=True)
    own_config.write_text('[sysinfo]\nexclude = ["processes"]\n\n[kiosk]\nsite = "HQ"\n')
    dialog = dialog_for(qtbot, "http://127.0.0.1:9")
    dialog.url_edit.setText("https://helpdesk.example.org/")
    dialog.proxy_edit.setText("http://proxy.example.org:3128")
    dialog.mode_combo.setCurrentIndex(2)
    dialog.autostart_box.setChecked(True)
    dialog.hotkey_edit.setKeySequence(QKeySequence("Ctrl+Shift+F11"))
    environment = dict(os.environ)
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    settings = saved.args[0]
    assert settings.capture_mode == "region" and settings.backend_url == "https://helpdesk.example.org"
    assert settings.hotkey == "Ctrl+Shift+F11"
    assert load_agent_settings() == settings
    table = tomllib.loads(own_config.read_text())
    assert table["sysinfo"] == {"exclude": ["processes"]} and table["kiosk"] == {"site": "HQ"}
    # The proxy is the backend's (the connectors apply it to their sessions), not the process's.
    assert table["backend"]["proxy"] == "http://proxy.example.org:3128" and "proxy" not in table["agent"]
    assert table["agent"]["hotkey"] == "Ctrl+Shift+F11"
    assert load_config().backend().proxy == "http://proxy.example.org:3128"
    assert dict(os.environ) == environment
    assert load_config().get("backend.url") == "https://helpdesk.example.org"
    entry = autostart_path().read_text()
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith(" agent --background") and "[Desktop Entry]" in entry
    set_autostart(False)
    assert not autostart_path().exists()


def test_save_refuses_a_bad_address_and_writes_nothing(qtbot: QtBot, own_config: Path) -> None:
    dialog = dialog_for(qtbot, "http://127.0.0.1:9")
    dialog.url_edit.setText("helpdesk.example.org")
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert "must start with http:// or https://" in dialog.problem_label.text()
    assert not own_config.exists()
    assert dialog.isVisible()


def test_enrolment_links_and_codes_round_trip() -> None:
    for text in (
        make_enrolment_link("https://help.example.org/", "sdk_abc"),
        make_enrolment_code("https://help.example.org", "sdk_abc"),
    ):
        enrolment = parse_enrolment(text)
        assert (enrolment.url, enrolment.token) == ("https://help.example.org", "sdk_abc")
        assert "sdk_abc" not in repr(enrolment)
    with pytest.raises(SettingsError, match="not an enrolment link"):
        parse_enrolment("https://help.example.org")
    with pytest.raises(SettingsError, match="lacks"):
        parse_enrolment("showdesk://enrol?url=https://help.example.org")
    with pytest.raises(SettingsError, match="must start with http"):
        parse_enrolment(make_enrolment_link("ftp://x", "t"))


def test_settings_problems_name_the_setting(tmp_path: Path) -> None:
    bad = AgentSettings(backend_url="https://ok.example.org", proxy="proxy:3128", ca_bundle=str(tmp_path / "none.pem"))
    problems = bad.problems()
    assert any("proxy" in p for p in problems) and any("CA bundle" in p for p in problems)
    with pytest.raises(SettingsError):
        save_agent_settings(bad)


def test_toml_round_trips_what_the_settings_file_holds() -> None:
    table = {"a": 1, "backend": {"url": 'x"y', "t": {"q": [1.5, True]}}, "kiosk": {"articles": [{"id": "é"}]}}
    assert tomllib.loads(to_toml(table)) == table


def test_the_hotkey_help_names_the_command_for_each_desktop() -> None:
    for platform in ("linux", "win32", "darwin"):
        assert "showdesk capture --gui" in hotkey_help(platform)
    assert "GNOME" in hotkey_help("linux") and "KDE" in hotkey_help("linux")


def test_a_proxy_kept_in_agent_by_earlier_versions_moves_to_the_backend(own_config: Path) -> None:
    own_config.parent.mkdir(parents=True)
    own_config.write_text(
        '[backend]\nurl = "https://help.example.org"\n\n[agent]\nproxy = "http://old.example.org:8080"\n'
    )
    assert load_agent_settings().proxy == "http://old.example.org:8080"  # read from the old place
    assert migrate_agent_proxy() is True
    table = tomllib.loads(own_config.read_text())
    assert table["backend"] == {"url": "https://help.example.org", "proxy": "http://old.example.org:8080"}
    assert "proxy" not in table["agent"]
    assert load_config().backend().proxy == "http://old.example.org:8080"
    assert migrate_agent_proxy() is False  # once


def test_a_proxy_already_in_the_backend_wins_over_the_old_one(own_config: Path) -> None:
    own_config.parent.mkdir(parents=True)
    own_config.write_text(
        '[backend]\nproxy = "http://new.example.org:3128"\n\n[agent]\nproxy = "http://old.example.org:8080"\n'
    )
    assert load_agent_settings().proxy == "http://new.example.org:3128"
    assert migrate_agent_proxy() is True
    table = tomllib.loads(own_config.read_text())
    assert table["backend"]["proxy"] == "http://new.example.org:3128" and "proxy" not in table["agent"]


def test_a_shortcut_that_would_fire_while_typing_is_not_saved(qtbot: QtBot, own_config: Path) -> None:
    dialog = dialog_for(qtbot, "http://127.0.0.1:9")
    dialog.hotkey_edit.setKeySequence(QKeySequence("Shift+P"))
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert "'Shift+P' would fire while typing" in dialog.problem_label.text()
    assert not own_config.exists()
    dialog.hotkey_edit.clear()  # no shortcut at all is a choice
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert saved.args[0].hotkey == "" and load_agent_settings().hotkey == ""


def test_where_no_global_key_is_allowed_the_dialog_offers_the_command(qtbot: QtBot) -> None:
    status = HotkeyStatus(False, "No global shortcut here: a Wayland desktop does not let programs take a global key.")
    dialog = dialog_for(qtbot, "http://127.0.0.1:9", hotkey_status=status)
    assert not dialog.hotkey_edit.isVisibleTo(dialog)
    assert dialog.hotkey_label.isVisibleTo(dialog) and "showdesk capture --gui" in dialog.hotkey_label.text()
    assert dialog.hotkey_state.text() == status.text
    copy = dialog.findChild(QPushButton, "copy-hotkey-command")
    assert copy is not None and copy.isVisibleTo(dialog)
    shown = dialog_for(qtbot, "http://127.0.0.1:9")
    assert shown.hotkey_edit.isVisibleTo(shown) and not shown.hotkey_label.isVisibleTo(shown)
    assert shown.hotkey_edit.keySequence().toString() == "Ctrl+Alt+P"


class ForwardingProxy:
    """A plain HTTP proxy on 127.0.0.1 that forwards absolute-URI requests and notes each one."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                proxy.seen.append(f"{self.command} {self.path}")
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "host")}
                upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=10)
                try:
                    upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""),
                                     body=body, headers=headers)  # fmt: skip
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def forwarding_proxy() -> Iterator[ForwardingProxy]:
    proxy = ForwardingProxy()
    yield proxy
    proxy.close()


def test_test_connection_goes_through_the_proxy_being_edited(
    qtbot: QtBot, server_process: ServerProcess, forwarding_proxy: ForwardingProxy
) -> None:
    from agent.credentials import store_token

    store_token(server_process.url, server_process.token("submitter"))
    environment = dict(os.environ)
    dialog = dialog_for(qtbot, server_process.url)
    dialog.proxy_edit.setText(forwarding_proxy.url)  # typed, not saved
    text = run_test(dialog, qtbot)
    assert text.startswith(f"✔ Connected to {server_process.url} through the proxy {forwarding_proxy.url}")
    assert text.endswith("You are signed in.")
    assert any(seen.startswith(f"GET {server_process.url}/") for seen in forwarding_proxy.seen)
    assert f"GET {server_process.url}/healthz" in forwarding_proxy.seen  # the reachability check too
    assert dict(os.environ) == environment  # nothing process-wide changed

    # Cleared: straight to the help desk, the proxy sees nothing more.
    seen_before = len(forwarding_proxy.seen)
    dialog.proxy_edit.setText("")
    text = run_test(dialog, qtbot)
    assert text.startswith(f"✔ Connected to {server_process.url} in") and len(forwarding_proxy.seen) == seen_before

    # A proxy where nothing listens: the failure names the proxy.
    dead = f"http://127.0.0.1:{free_port()}"
    dialog.proxy_edit.setText(dead)
    text = run_test(dialog, qtbot)
    assert text.startswith(f"✘ Cannot reach {server_process.url} through the proxy {dead}")


def test_connection_check_words_never_call_a_cut_short_check_a_failure() -> None:
    from agent.laptop.settings_store import explain_connectivity

    reachable, words = explain_connectivity(
        {"checked": True, "url": "https://help.example", "verdict": "not_checked_in_time", "reachable": None,
         "reason": "still waiting for the name lookup of help.example after 290 ms"}
    )
    assert not reachable
    assert words.startswith("Not checked in time: still waiting") and "Cannot reach" not in words
    reachable, words = explain_connectivity(
        {"checked": True, "url": "https://help.example", "verdict": "failed", "reachable": False,
         "failed_step": "route", "reason": "no route to the help desk 10.99.0.1: network is unreachable"}
    )
    assert not reachable
    assert "network is unreachable" in words and "VPN" in words
