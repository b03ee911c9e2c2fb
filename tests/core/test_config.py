from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import (
    DEFAULT_BACKEND_URL,
    MACHINE_CONFIG_PATHS,
    SETTINGS,
    ConfigError,
    check_file,
    load_config,
    reference_markdown,
)

REPO = Path(__file__).resolve().parents[2]


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
        ("[backend]\ntype = 'bugzilla'\n", "type = 'bugzilla' is not one of"),
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


# ---------------------------------------------------------------- checking a file, line by line
def test_check_file_names_the_line_of_each_mistake_and_explains_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "# pushed by the management tool\n"
        "[backend]\n"
        'url = "https://helpdesk.example.org"\n'
        "\n"
        "[server]\n"
        'port = "8765"\n'
        'notes = """\n'
        "prot = 1\n"
        '"""\n'
        "[sysinfo]\n"
        'exclude = "processes"\n'
        "[backends.rt]\n"
        'type = "rt"\n'
        'token = "abc"\n'
        "[serverr]\n"
        "port = 1\n"
    )

    problems = check_file(config)

    assert problems == [
        f"{config}:6: server.port must be int, got '8765': write a whole number without quotes, like 8765 "
        "(default 8765)",
        f"{config}:7: unknown key 'server.notes' (`showdesk config reference` lists every key)",
        f"{config}:11: sysinfo.exclude must be list, got 'processes': write a list in brackets, like "
        '["processes"] (default [])',
        f"{config}:16: unknown key 'serverr.port' (did you mean 'server.port'?)",
        f"{config}:14: [backends.rt] has 'token': secrets never go in a file; use `showdesk login URL` (OS keyring) "
        "or SHOWDESK_TOKEN",
    ]


def test_check_file_finds_keys_written_dotted_or_inline(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('server.port = "x"\nsysinfo = { timeout = "slow" }\n')
    assert [p.split(": ", 1)[0] for p in check_file(config)] == [f"{config}:1", f"{config}:2"]


def test_check_file_points_at_a_toml_syntax_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\nport = 8000\nhost = "127.0.0.1\n')
    (problem,) = check_file(config)
    assert problem.startswith(f"{config}:3: not valid TOML")


def test_check_file_of_a_good_or_missing_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[server]\nport = 8000\nretention_days = 30\n[kiosk]\nsite = "HQ"\n')
    assert check_file(good) == []
    assert check_file(tmp_path / "absent.toml") == [f"{tmp_path / 'absent.toml'}: no such file"]


def test_load_config_reports_the_line_too(config_files: tuple[Path, Path]) -> None:
    _, user = config_files
    user.write_text("[sysinfo]\n\ntimeout = 'slow'\n")
    with pytest.raises(ConfigError, match=r":3: sysinfo.timeout must be float"):
        load_config()


# ---------------------------------------------------------------- the reference page
def test_the_reference_page_is_the_same_on_every_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    page = reference_markdown()
    monkeypatch.setenv("SHOWDESK_MACHINE_CONFIG", "/somewhere/else.toml")
    monkeypatch.setenv("SHOWDESK_CONFIG", "/elsewhere.toml")
    assert reference_markdown() == page
    for path in MACHINE_CONFIG_PATHS.values():
        assert f"`{path}`" in page
    for setting in SETTINGS:
        assert f"| `{setting.key}` | {setting.type.__name__} |" in page


def test_docs_configuration_is_up_to_date_with_the_code() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert page.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/configuration.md is stale: run `showdesk config reference > docs/configuration.md`"
    )


# ---------------------------------------------------------------- notification targets ([[notify]])
NOTIFY_TOML = """
[[notify]]
name = "it-teams"
kind = "teams"
url_keyring = "it-teams-url"
events = ["new_report", "walkup_waiting", "critical_flag"]
sites = ["HQ"]
walkup_minutes = 15

[[notify]]
name = "ops-hook"
kind = "webhook"
url_env = "OPS_HOOK_URL"
secret_keyring = "ops-hook-secret"
categories = ["Printer"]
"""


def test_notify_tables_become_targets_with_their_rules(config_files: tuple[Path, Path]) -> None:
    _machine, user = config_files
    user.write_text(NOTIFY_TOML)
    config = load_config()
    teams, hook = config.notify_targets()
    assert (teams.name, teams.kind, teams.url.keyring, teams.sites, teams.walkup_minutes) == (
        "it-teams", "teams", "it-teams-url", ("HQ",), 15)
    assert (hook.kind, hook.url.env, hook.secret.keyring, hook.events, hook.categories) == (
        "webhook", "OPS_HOOK_URL", "ops-hook-secret", ("new_report",), ("Printer",))
    assert config.notify_dir.name == "notify"
    assert check_file(user) == []


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ('url = "https://example.webhook.office.com/abc"', "url", "a webhook URL or secret never goes in a file"),
        ('url_keyring = "x"\nsecret = "hunter2"', "secret", "use secret_keyring or secret_env"),
        ('url_keyring = "https://hooks.slack.com/services/T/B/X"', "url_keyring", "looks like the secret itself"),
        ('url_keyring = "x"\nevents = ["every_minute"]', "events", "'every_minute' is not one of new_report"),
        ('url_keyring = "x"\nwalkup_minutes = 0', "walkup_minutes", "walkup_minutes must be a whole number"),
        ('url_keyring = "x"\nimages = true', "images", "needs slack_channel_id and slack_token_keyring"),
    ],
)
def test_notify_mistakes_are_named_and_secrets_refused(tmp_path: Path, table: str, key: str, message: str) -> None:
    path = tmp_path / "config.toml"
    text = (f'[server]\nport = 8765\n\n[[notify]]\nname = "fine"\nkind = "teams"\nurl_env = "A"\n\n'
            f'[[notify]]\nname = "chat"\nkind = "slack"\n{table}\n')
    path.write_text(text)
    [problem] = check_file(path)
    assert message in problem
    line = int(problem.removeprefix(f"{path}:").split(":", 1)[0])
    assert text.splitlines()[line - 1].startswith(f"{key} =")  # the offending key in the second [[notify]]
    assert line > 9
    assert "hunter2" not in problem


def test_a_webhook_target_must_be_signed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[notify]]\nname = "hook"\nkind = "webhook"\nurl_env = "HOOK_URL"\n')
    [problem] = check_file(path)
    assert "a webhook is signed: give secret_keyring or secret_env" in problem


# ---------------------------------------------------------------- the user file's place, without platformdirs
LINUX_ENVIRONMENTS: list[dict[str, str | None]] = [
    {"XDG_CONFIG_HOME": "/srv/conf", "HOME": "/home/ann"},
    {"XDG_CONFIG_HOME": "/srv/conf/", "HOME": "/home/ann"},
    {"XDG_CONFIG_HOME": "//srv//conf", "HOME": "/home/ann"},
    {"XDG_CONFIG_HOME": "relative/conf", "HOME": "/home/ann"},  # not absolute: as if unset
    {"XDG_CONFIG_HOME": "", "HOME": "/home/ann"},
    {"XDG_CONFIG_HOME": "~/conf", "HOME": "/home/ann"},
    {"XDG_CONFIG_HOME": None, "HOME": "/home/ann"},
    {"XDG_CONFIG_HOME": None, "HOME": "/home/ann/"},
    {"XDG_CONFIG_HOME": None, "HOME": "/"},
    {"XDG_CONFIG_HOME": None, "HOME": "relative-home"},  # the password database's home instead
    {"XDG_CONFIG_HOME": None, "HOME": ""},
    {"XDG_CONFIG_HOME": None, "HOME": None},
]


@pytest.mark.skipif(sys.platform != "linux", reason="the path is built without platformdirs on Linux only")
@pytest.mark.parametrize("environment", LINUX_ENVIRONMENTS, ids=repr)
def test_the_user_file_is_where_platformdirs_puts_it(
    environment: dict[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    from agent.config import user_config_path

    monkeypatch.delenv("SHOWDESK_CONFIG", raising=False)
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert user_config_path() == platformdirs.user_config_path("showdesk", appauthor=False) / "config.toml"


def test_the_variable_names_the_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.config import user_config_path

    monkeypatch.setenv("SHOWDESK_CONFIG", str(tmp_path / "mine.toml"))
    assert user_config_path() == tmp_path / "mine.toml"


@pytest.mark.skipif(sys.platform != "linux", reason="the path is built without platformdirs on Linux only")
def test_reading_the_configuration_does_not_import_platformdirs(config_files: tuple[Path, Path]) -> None:
    _machine, user = config_files
    user.write_text('[backend]\nurl = "http://user:2"\n')
    script = (
        "import os, sys\n"
        "del os.environ['SHOWDESK_CONFIG']\n"  # the file's place from XDG_CONFIG_HOME, as a user's would be
        "from agent.config import load_config, user_config_path\n"
        "load_config()\n"
        "print(user_config_path())\n"
        "assert 'platformdirs' not in sys.modules, 'platformdirs was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(Path(os.environ["XDG_CONFIG_HOME"]) / "showdesk" / "config.toml")
