"""The agent on real parts: a real outbox in tmp_path, the real built-in server when a test wants one,
screen capture from the session's Xvfb (the widgets themselves draw offscreen in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from agent import sysinfo
from agent.connectors.builtin import BuiltinConnector
from agent.laptop.agent_app import AgentApp, AgentServices
from agent.laptop.settings_store import AgentSettings
from agent.outbox import Outbox
from tests.fixtures.server import ServerProcess, free_port
from tests.fixtures.xvfb import XvfbServer


class AgentHarness:
    """Makes agents on a throw-away outbox; shuts them down at the end of the test."""

    def __init__(self, qtbot: QtBot, tmp_path: Path, display: str | None) -> None:
        self.qtbot = qtbot
        self.tmp_path = tmp_path
        self.display = display
        # Nothing listens here until a test starts a server on it: "the help desk is down".
        self.server_url = f"http://127.0.0.1:{free_port()}"
        self.token: str | None = None
        self.outbox = Outbox(tmp_path / "outbox", connector_for=self.connector)
        self.agents: list[AgentApp] = []

    def connector(self, _name: str = "default") -> BuiltinConnector:
        return BuiltinConnector(self.server_url, token=lambda: self.token, connect_timeout=2.0, read_timeout=20.0)

    def use_server(self, server: ServerProcess) -> None:
        self.server_url = server.url
        self.token = server.token("submitter")

    def collect_sysinfo(self, monitors: list[dict[str, Any]]) -> dict[str, object]:
        return sysinfo.collect(sysinfo.SysinfoOptions(timeout=1.0, backend_url=self.server_url, monitors=monitors))

    def make(self, **overrides: Any) -> AgentApp:
        settings = overrides.pop("settings", None) or AgentSettings(backend_url=self.server_url)
        services = AgentServices(
            outbox=self.outbox,
            settings=settings,
            display=self.display,
            collect_sysinfo=self.collect_sysinfo,
            connector_factory=self.connector,
            use_tray=False,
            # The shared Xvfb has one keyboard: only the hotkey tests take a global shortcut on it.
            global_hotkey=overrides.pop("global_hotkey", False),
            sender_idle_seconds=0.5,
            contact_file=overrides.pop("contact_file", self.tmp_path / "last-contact.json"),
            quit_application=False,
            **overrides,
        )
        agent = AgentApp(services)
        agent.start()
        self.agents.append(agent)
        return agent

    def close(self) -> None:
        for agent in self.agents:
            agent.shutdown()


@pytest.fixture
def harness(qtbot: QtBot, tmp_path: Path, xvfb_display: XvfbServer) -> Iterator[AgentHarness]:
    made = AgentHarness(qtbot, tmp_path, xvfb_display.display)
    yield made
    made.close()
