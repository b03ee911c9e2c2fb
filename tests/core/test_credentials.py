from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from agent.config import BackendConfig
from agent.connectors.base import AuthError, TransientError
from agent.connectors.builtin import BuiltinConnector
from agent.credentials import (
    CredentialError,
    LocalServerDownError,
    LocalServerNoTokenError,
    check_local_server,
    forget_token,
    handover_path,
    store_token,
    token_for,
)
from tests.outbox.helpers import make_bundle

BACKEND = BackendConfig(name="default", type="builtin", url="http://127.0.0.1:8765")


@pytest.fixture(autouse=True)
def _empty_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TEST_KEYRING", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("SHOWDESK_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.delenv("SHOWDESK_TOKEN", raising=False)


def test_token_goes_to_the_keyring_not_a_plain_config_file(tmp_path: Path) -> None:
    store_token(BACKEND.url, "sekrit-token-123")
    assert token_for(BACKEND) == "sekrit-token-123"
    assert token_for(BACKEND, role="technician") is None
    assert forget_token(BACKEND.url)
    assert token_for(BACKEND) is None


def test_environment_token_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    store_token(BACKEND.url, "from-keyring")
    monkeypatch.setenv("SHOWDESK_TOKEN", "from-env")
    assert token_for(BACKEND) == "from-env"


def _write_handover(tokens: dict[str, str], mode: int = 0o600) -> Path:
    path = handover_path(8765)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": BACKEND.url, "pid": os.getpid(), "tokens": tokens}))
    path.chmod(mode)
    return path


def test_local_server_hands_over_its_token() -> None:
    _write_handover({"submitter": "local-sub", "technician": "local-tech"})
    assert token_for(BACKEND) == "local-sub"
    assert token_for(BACKEND, role="technician") == "local-tech"
    remote = BackendConfig(name="default", type="builtin", url="http://helpdesk.example.test:8765")
    assert token_for(remote) is None


def test_handover_file_readable_by_others_is_ignored() -> None:
    _write_handover({"submitter": "local-sub"}, mode=0o644)
    assert token_for(BACKEND) is None


def test_no_keyring_is_said_plainly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(CredentialError, match="no OS keyring is available"):
            store_token(BACKEND.url, "abc")
        assert token_for(BACKEND) is None
    finally:
        keyring.set_keyring(previous)
    assert not any("abc" in p.read_text() for p in tmp_path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- a local server without a token
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_nothing_listening_on_a_local_backend_means_the_server_is_not_running() -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    connector = BuiltinConnector(url, token=lambda: None)

    with pytest.raises(LocalServerDownError) as raised:
        connector.submit(make_bundle(1))

    assert isinstance(raised.value, TransientError)  # retried on the normal backoff, never paused
    assert raised.value.reason == "the help desk server on this machine is not running"
    assert raised.value.handover == handover_path(port)
    assert "showdesk login" not in raised.value.reason


def test_a_listening_local_server_without_a_hand_over_token_is_a_sign_in_problem() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        connector = BuiltinConnector(f"http://127.0.0.1:{port}", token=lambda: None)
        with pytest.raises(LocalServerNoTokenError) as raised:
            connector.submit(make_bundle(2))
    assert isinstance(raised.value, AuthError)
    assert "showdesk login" in raised.value.reason
    assert raised.value.handover == handover_path(port)


def test_a_remote_backend_without_a_token_is_asked_no_port() -> None:
    connector = BuiltinConnector("http://helpdesk.example.test:8765", token=lambda: None)
    with pytest.raises(AuthError) as raised:
        connector.submit(make_bundle(3))
    assert type(raised.value) is AuthError
    assert "showdesk login" in raised.value.reason
    check_local_server("http://helpdesk.example.test:8765", system="remote")  # returns: not on this machine
