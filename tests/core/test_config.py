from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import DEFAULT_BACKEND_URL, ConfigError, load_config, reference_markdown


@pytest.fixture
def config_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    machine = tmp_path / "machine.toml"
    user = tmp_path / "user.toml"
    monkeypatch.setenv("SHOWDESK_MACHINE_CONFIG", str(machine))
    monkeypatch.setenv("SHOWDESK_CONFIG", str(user))
    return machine, user


def test_defaults_point_at_the_embedded_server(config_files: tuple[Path, Path]) -> None:
    config = load_config()
    backend = config.backend()
    assert (backend.name, backend.type, backend.url) == ("default", "builtin", DEFAULT_BACKEND_URL)
    assert config.values["backend.url"].source == "default"


def test_layers_apply_in_order(config_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    machine, user = config_files
    machine.write_text('[backend]\nurl = "http://machine:1"\n[server]\nport = 9000\n[sysinfo]\ntimeout = 1\n')
    user.write_text('[backend]\nurl = "http://user:2"\n[server]\nport = 9001\n')
    config = load_config()
    assert config.get("backend.url") == "http://user:2"
    assert config.values["backend.url"].source == str(user)
    assert config.get("sysinfo.timeout") == 1.0
    assert config.values["sysinfo.timeout"].source == str(machine)

    monkeypatch.setenv("SHOWDESK_URL", "http://env:3")
    config = load_config()
    assert config.get("backend.url") == "http://env:3"
    assert config.values["backend.url"].source == "environment SHOWDESK_URL"

    config = load_config({"backend.url": "http://cli:4", "server.port": "9002"})
    assert config.get("backend.url") == "http://cli:4"
    assert config.get("server.port") == 9002
    assert config.values["server.port"].source == "command line"


def test_named_backends_carry_their_own_keys(config_files: tuple[Path, Path]) -> None:
    _, user = config_files
    user.write_text(
        '[backends.rt]\ntype = "rt"\nurl = "https://rt.example.test/"\nqueue = "Support"\n'
        '[backends.mail]\ntype = "smtp"\nurl = "smtp://mail.example.test:587"\n'
    )
    config = load_config()
    rt = config.backend("rt")
    assert (rt.type, rt.url, rt.options["queue"]) == ("rt", "https://rt.example.test", "Support")
    assert config.backend_names() == ["default", "mail", "rt"]
    with pytest.raises(ConfigError, match="no backend named 'nope'; configured: default, mail, rt"):
        config.backend("nope")


def test_secrets_in_the_file_are_refused(config_files: tuple[Path, Path]) -> None:
    _, user = config_files
    user.write_text('[backends.rt]\ntype = "rt"\nurl = "https://rt"\ntoken = "abc"\n')
    with pytest.raises(ConfigError, match="secrets never go in a file"):
        load_config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 'eighty'\n", "server.port must be int"),
        ("[nonsense]\nx = 1\n", "unknown key 'nonsense.x'"),
        ("[backend]\ntype = 'jira'\n", "type = 'jira' is not one of"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_mistakes_name_file_and_key(config_files: tuple[Path, Path], text: str, message: str) -> None:
    _, user = config_files
    user.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config()
    assert str(user) in str(caught.value)


def test_outbox_dir_defaults_under_user_data(config_files: tuple[Path, Path]) -> None:
    # conftest points XDG_DATA_HOME at a temporary directory: never the real one.
    assert load_config().outbox_dir == Path(os.environ["XDG_DATA_HOME"]) / "showdesk" / "outbox"


def test_reference_lists_every_key() -> None:
    page = reference_markdown()
    assert "`backend.url`" in page and "SHOWDESK_URL" in page and "`server.port`" in page
