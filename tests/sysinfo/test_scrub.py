"""Secrets never leave the machine: planted canaries, the scrubbing rules, the logging filter."""

from __future__ import annotations

import io
import json
import logging
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from agent.scrub import SCRUBBED, ScrubbingFilter, is_secret_key, scrub, scrub_command_line, scrub_text
from agent.sysinfo import SysinfoOptions, collect, format_text


@pytest.fixture
def canary() -> str:
    return "CANARY" + secrets.token_hex(8)


@pytest.fixture
def busy_child(canary: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real process spinning one core, with canaries on its command line and in its environment."""
    child = subprocess.Popen(
        [sys.executable, "-c", "while True: pass", f"--password={canary}", f"API_TOKEN={canary}", "--token", canary],
        env={"API_TOKEN": canary, "DB_PASSWORD": canary, "PATH": "/usr/bin:/bin"},
    )
    try:
        # Wait until psutil sees it running its command line (not still exec'ing).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if f"--password={canary}" in psutil.Process(child.pid).cmdline():
                    break
            except psutil.Error:
                pass
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


def test_planted_canaries_appear_nowhere_in_the_snapshot(
    busy_child: subprocess.Popen[bytes], canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", f"http://alice:{canary}@proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", f"bob:{canary}@proxy.invalid:8080")

    def nested() -> object:
        return {
            "settings": {"db": {"password": canary, "host": "db.local"}, "apiKey": canary},
            "urls": [f"https://carol:{canary}@git.example.org/repo.git", f"https://h/x?access_token={canary}&page=2"],
            "note": f"Authorization: Bearer {canary}",
        }

    snapshot = collect(SysinfoOptions(timeout=5.0, extra_collectors={"planted": nested}))
    serialized = json.dumps(snapshot)
    processes = snapshot["processes"]
    assert isinstance(processes, dict)
    listed = {p["pid"]: p for p in processes["by_cpu"] + processes["by_memory"]}
    # The canary process was collected: the test would fail if scrubbing did not work.
    assert busy_child.pid in listed, processes
    assert SCRUBBED in listed[busy_child.pid]["cmdline"]
    assert "alice" not in serialized and "proxy.invalid:3128" in serialized
    assert snapshot["planted"]["settings"]["db"]["host"] == "db.local"  # type: ignore[index]
    assert canary not in serialized
    assert canary not in format_text(snapshot)


def test_secret_key_names_match_whole_words() -> None:
    for name in (
        "password",
        "api_key",
        "private_key",
        "ssh_key",
        "privateKey",
        "X-Api-Key",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "accessToken",
        "Set-Cookie",
        "credentials",
        "db_passwd",
        "Authorization",
        "keys",
    ):
        assert is_secret_key(name), name
    for name in (
        "keyboard",
        "keyboard_layout",
        "monkey",
        "hotkeys",
        "author",
        "tokenizer_name",
        "path",
        "hostname",
        "status",
        "memory_rss",
        "pwd_dir",
    ):
        assert not is_secret_key(name), name


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("curl -H 'Authorization: Bearer s3cr3t.value' https://x", "s3cr3t.value"),
        ("got bearer abcDEF123 from the cache", "abcDEF123"),
        ("Proxy-Authorization: Basic YWxpY2U6czNjcjN0", "YWxpY2U6czNjcjN0"),
        ("https://alice:hunter2@example.org/path", "hunter2"),
        ("alice:hunter2@proxy.example:3128", "hunter2"),
        ("env API_TOKEN=tok-123 DB_PASSWORD='two words' run", "tok-123"),
        ("env API_TOKEN=tok-123 DB_PASSWORD='two words' run", "two words"),
        ("tool --password=hunter2 --verbose", "hunter2"),
        ("tool --api-token hunter2 --verbose", "hunter2"),
        ('{"client_secret": "hunter2", "name": "x"}', "hunter2"),
        ("aws AKIAIOSFODNN7EXAMPLE configured", "AKIAIOSFODNN7EXAMPLE"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "eyJzdWIiOiIxMjM0In0"),
        ("push with ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_0123456789abcdefghijABCDEFGHIJ012345"),
        ("https://h/file?sig=Zm9vYmFy&sv=2020", "Zm9vYmFy"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (cut off here", "MIIEvQIBADANBg"),
    ],
)
def test_secrets_inside_text_are_scrubbed(text: str, secret: str) -> None:
    cleaned = scrub_text(text)
    assert secret not in cleaned
    assert SCRUBBED in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "keyboard=us layout: de",
        "https://example.org/@user/page?q=1&page=2",
        "git@github.com:org/repo.git",
        "meeting at 10:30, ratio 1:2",
        r"C:\Users\alice\Documents",
        "the token expired yesterday",
        "monkey=3",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_text(text) == text


def test_command_lines_lose_random_looking_words_but_keep_paths_and_flags() -> None:
    plain = (
        "/usr/lib/chromium/chromium --type=renderer --field-trial-handle=3040,i,1177437387059841438 "
        "--lang=en-US /home/alice/projects/SomeProject/build/output_directory/main.py"
    )
    assert scrub_command_line(plain) == plain
    for secret in ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"):
        cleaned = scrub_command_line(f"sync-tool --mode fast {secret} /srv/data")
        assert secret not in cleaned and "/srv/data" in cleaned


def test_scrub_walks_nested_data_and_keeps_harmless_values() -> None:
    data = {
        "api_key": "k1",
        "keyboard": "us",
        "nested": [{"password": "p1", "user": "alice"}, ("Bearer t1",)],
        "token_present": True,
        "secret_count": None,
        "cmdline": ["prog", "--password", "p2", "--verbose", "file"],
    }
    assert scrub(data) == {
        "api_key": SCRUBBED,
        "keyboard": "us",
        "nested": [{"password": SCRUBBED, "user": "alice"}, [f"Bearer {SCRUBBED}"]],
        "token_present": True,
        "secret_count": None,
        "cmdline": ["prog", "--password", SCRUBBED, "--verbose", "file"],
    }
    assert data["api_key"] == "k1"  # a copy: the input is unchanged


def test_logging_filter_scrubs_messages_arguments_and_tracebacks(canary: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(ScrubbingFilter())
    logger = logging.getLogger("showdesk.test.scrub")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("sending with header Bearer %s", canary)
        logger.warning("proxy is %s", f"http://u:{canary}@proxy.local:3128")
        logger.warning("odd args %s %s", f"token={canary}")  # a broken format string still logs, scrubbed
        try:
            raise ConnectionError(f"refused for token={canary}")
        except ConnectionError:
            logger.exception("upload failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert canary not in output
    assert "Bearer [scrubbed]" in output
    assert "proxy.local:3128" in output
    assert "ConnectionError: refused for token=[scrubbed]" in output
    assert "upload failed" in output
    assert "odd args" in output
