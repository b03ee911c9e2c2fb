"""The [kiosk] section: a site's branding read as given, every mistake named at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agent.config import load_config
from kiosk.cli import main as kiosk_main
from kiosk.settings import (
    DEFAULT_DONE_SECONDS,
    DEFAULT_IDLE_SECONDS,
    KioskConfigError,
    hash_pin,
    load_settings,
    parse_settings,
    verify_pin,
)
from tests.kiosk.conftest import SITE_TABLE


def test_a_sites_configuration_is_read_as_given(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (40, 20), "navy").save(logo)
    settings = parse_settings(
        {
            **SITE_TABLE,
            "logo": str(logo),
            "colors": {"primary": "#123456", "background": "#fafafa"},
            "language": "de",
            "texts": {"welcome_title": {"en": "Need help?", "de": "Brauchen Sie Hilfe?"}},
            "idle_seconds": 90,
            "countdown_seconds": 10,
            "guest_allowed": False,
            "admin_pin_hash": hash_pin("4711", iterations=1000),
        }
    )
    assert settings.site == "HQ Tech Bar" and settings.kiosk_id == "hq-bar-1"
    assert settings.logo == logo
    assert (settings.colours.primary, settings.colours.background) == ("#123456", "#fafafa")
    assert settings.colours.text == "#16202a"  # not configured: the default
    assert settings.language == "de" and settings.idle_seconds == 90.0 and settings.countdown_seconds == 10.0
    assert settings.welcome_title.resolve("de") == "Brauchen Sie Hilfe?"
    assert [c.id for c in settings.categories] == ["sign-in", "laptop", "printer", "other"]
    sign_in = settings.category("sign-in")
    assert sign_in is not None
    assert sign_in.label.resolve("de") == "Anmeldung klappt nicht"
    assert [a.url for a in settings.articles_for(sign_in)] == [
        "https://help.example.org/reset-password",
        "https://help.example.org/mfa",
    ]
    # A plain string is the text in every language.
    assert settings.articles["mfa"].title.resolve("de") == "Set up your authenticator app"
    assert settings.allowed_apps[0].command == ("sleep", "60")
    assert not settings.guest_allowed
    assert verify_pin("4711", settings.admin_pin_hash) and not verify_pin("4712", settings.admin_pin_hash)


def test_nothing_configured_gives_working_defaults() -> None:
    settings = parse_settings({})
    assert [c.id for c in settings.categories] == ["sign-in", "laptop", "printer", "software", "other"]
    assert settings.categories[0].label.resolve("en") == "Can't sign in"
    assert settings.idle_seconds == DEFAULT_IDLE_SECONDS == 120.0
    assert settings.countdown_seconds == 20.0, "WCAG 2.2.1: at least 20 s to ask for more time"
    assert settings.guest_allowed and settings.allowed_apps == () and settings.admin_pin_hash == ""


def test_the_done_countdown_is_short_by_default_and_checked() -> None:
    assert parse_settings({}).done_seconds == DEFAULT_DONE_SECONDS == 30.0
    assert parse_settings({"done_seconds": 12}).done_seconds == 12.0
    for bad, expected in (
        (600, "done_seconds = 600 is outside 3..120"),
        (1, "done_seconds = 1 is outside 3..120"),
        ("soon", "done_seconds must be a number, got 'soon'"),
        (True, "done_seconds must be a number, got True"),
        (float("nan"), "done_seconds = nan is outside 3..120"),
    ):
        with pytest.raises(KioskConfigError) as caught:
            parse_settings({"done_seconds": bad})
        assert caught.value.problems == [f"[kiosk] {expected}"]


def test_every_mistake_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(KioskConfigError) as caught:
        parse_settings(
            {
                "sitename": "typo",
                "logo": str(tmp_path / "missing.png"),
                "colors": {"primary": "blue", "glow": "#ffffff"},
                "language": "fr",
                "idle_seconds": 2,
                "guest_allowed": "yes",
                "texts": {"welcome_title": 42},
                "articles": [{"id": "a", "title": "A", "url": "ftp://x"}],
                "categories": [{"id": "c", "label": "C", "articles": ["nope"]}, {"id": "bad id!", "label": "X"}],
                "allowed_apps": [{"id": "web", "label": "Web", "command": "firefox"}],
                "admin_pin_hash": "1234",
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "unknown key 'sitename'",
        "missing.png'",
        "primary = 'blue' is not a colour",
        "unknown colour 'glow'",
        "language = 'fr' is not one of en, de",
        "idle_seconds = 2 is outside 10..3600",
        "guest_allowed must be true or false",
        "welcome_title must be a string or a table",
        "url must start with https:// or http://",
        "article 'nope' is not defined",
        "id must be letters, digits",
        "command must be a non-empty list of strings",
        "admin_pin_hash is not a hash",
    ):
        assert expected in problems
    assert len(caught.value.problems) == 13


def test_the_pin_hash_is_taken_from_the_machine_wide_file_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine, user = tmp_path / "machine.toml", tmp_path / "user.toml"
    monkeypatch.setenv("SHOWDESK_MACHINE_CONFIG", str(machine))
    monkeypatch.setenv("SHOWDESK_CONFIG", str(user))
    pin_hash = hash_pin("2468", iterations=1000)
    machine.write_text(f'[kiosk]\nsite = "Lab"\nadmin_pin_hash = "{pin_hash}"\n')
    settings = load_settings(load_config())
    assert settings.site == "Lab" and verify_pin("2468", settings.admin_pin_hash)
    user.write_text('[kiosk]\nadmin_pin_hash = "pbkdf2_sha256$1000$AAAA$BBBB"\n')
    with pytest.raises(KioskConfigError, match="admin_pin_hash belongs in the machine-wide file"):
        load_settings(load_config())


def test_pins_are_digits_and_hashes_are_salted() -> None:
    with pytest.raises(ValueError, match="at least 4 digits"):
        hash_pin("12a4")
    first, second = hash_pin("1234", iterations=1000), hash_pin("1234", iterations=1000)
    assert first != second and verify_pin("1234", first) and verify_pin("1234", second)
    assert not verify_pin("1234", "garbage") and not verify_pin("1234", "")


def test_check_command_reports_a_bad_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "user.toml"
    monkeypatch.setenv("SHOWDESK_CONFIG", str(user))
    user.write_text('[kiosk]\nidle_seconds = "soon"\n')
    assert kiosk_main(["kiosk", "--check"]) == 5
    assert "idle_seconds must be a number" in capsys.readouterr().err
    user.write_text('[kiosk]\nsite = "HQ"\n')
    assert kiosk_main(["kiosk", "--check"]) == 0
    assert "site HQ" in capsys.readouterr().out
