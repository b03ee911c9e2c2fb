from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.config import BackendConfig
from agent.credentials import CredentialError, forget_token, handover_path, store_token, token_for

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
