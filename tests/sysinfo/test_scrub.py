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
def word_canary() -> str:
    """A canary too short and plain for the random-word rule: only a tool's own password rule can catch it."""
    return f"canary{secrets.randbelow(10**6):06d}"


# Password options of other tools, as they appear on a process's command line (the canary
# process passes them as plain arguments); and an ordinary -p that must survive.
PLANTED_TOOL_ARGUMENTS = (
    "mysql -u root -p{c} shop",
    "sshpass -p {c} ssh -p 2222 backup.local",
    "curl -u bob:{c} https://intranet.local",
    "smbclient -U bob%{c} //files/share",
    "ldapsearch -x -w {c} -b dc=example",
)


@pytest.fixture
def busy_child(canary: str, word_canary: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real process spinning one core, with canaries on its command line and in its environment."""
    planted = " ".join(PLANTED_TOOL_ARGUMENTS).format(c=word_canary).split()
    child = subprocess.Popen(
        [sys.executable, "-c", "while True: pass", f"--password={canary}", f"API_TOKEN={canary}", "--token", canary,
         *planted],
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
    busy_child: subprocess.Popen[bytes], canary: str, word_canary: str, monkeypatch: pytest.MonkeyPatch
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
    assert word_canary not in serialized and word_canary not in format_text(snapshot)
    # Scrubbed by the tools' rules, the rest of their arguments intact (ssh's -p is a port).
    assert "mysql -u root -p[scrubbed] shop sshpass -p [scrubbed] ssh -p 2222 backup.local" in serialized


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
        "pass",
        "SMTP_PASS",
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


@pytest.mark.parametrize(
    ("command_line", "expected"),
    [
        ("mysql -u root -pS3cretPw shop", "mysql -u root -p[scrubbed] shop"),
        ("/usr/bin/mysql --password=S3cretPw shop", "/usr/bin/mysql --password=[scrubbed] shop"),
        ("mysqldump -uroot -pX --all-databases", "mysqldump -uroot -p[scrubbed] --all-databases"),
        ("mariadb-dump -h db -pS3cretPw", "mariadb-dump -h db -p[scrubbed]"),
        ("sshpass -p S3cretPw ssh -p 22 host", "sshpass -p [scrubbed] ssh -p 22 host"),
        ("sshpass -pS3cretPw scp -P 2222 a host:b", "sshpass -p[scrubbed] scp -P 2222 a host:b"),
        ("psql postgresql://bob:S3cretPw@db:5432/app", "psql postgresql://[scrubbed]@db:5432/app"),
        ("psql 'host=db user=bob password=S3cretPw'", "psql 'host=db user=bob password=[scrubbed]'"),
        ("smbclient //files/share -U bob%S3cretPw", "smbclient //files/share -U bob%[scrubbed]"),
        ("smbclient //files/share -Ubob%S3cretPw", "smbclient //files/share -Ubob%[scrubbed]"),
        ("smbclient //files/share --user=DOM/bob%S3cretPw", "smbclient //files/share --user=DOM/bob%[scrubbed]"),
        ("curl -u bob:S3cretPw https://intranet.local", "curl -u bob:[scrubbed] https://intranet.local"),
        ("curl --user bob:S3cretPw https://x.local", "curl --user bob:[scrubbed] https://x.local"),
        ("curl -ubob:S3cretPw https://x.local", "curl -ubob:[scrubbed] https://x.local"),
        ("curl -U proxyuser:S3cretPw https://x.local", "curl -U proxyuser:[scrubbed] https://x.local"),
        ("wget --password=S3cretPw https://x.local/f", "wget --password=[scrubbed] https://x.local/f"),
        ("wget --http-password=S3cretPw https://x.local/f", "wget --http-password=[scrubbed] https://x.local/f"),
        ("wget --ftp-password S3cretPw ftp://x.local/f", "wget --ftp-password [scrubbed] ftp://x.local/f"),
        ("ldapsearch -x -D cn=admin -w S3cretPw -b dc=x", "ldapsearch -x -D cn=admin -w [scrubbed] -b dc=x"),
        ("ldapmodify -wS3cretPw -f change.ldif", "ldapmodify -w[scrubbed] -f change.ldif"),
        ("ldappasswd -w Old1 -s New2 uid=bob", "ldappasswd -w [scrubbed] -s [scrubbed] uid=bob"),
        ("redis-cli -h cache -a S3cretPw ping", "redis-cli -h cache -a [scrubbed] ping"),
        ("redis-cli --pass S3cretPw ping", "redis-cli --pass [scrubbed] ping"),
        (r"net use Z: \\files\share S3cretPw /user:DOM\bob", r"net use Z: \\files\share [scrubbed] /user:DOM\bob"),
        ("net user bob S3cretPw /add", "net user bob [scrubbed] /add"),
        ("mount -o username=bob,password=S3cretPw //f/s /mnt", "mount -o username=bob,password=[scrubbed] //f/s /mnt"),
        ("sqlcmd -S db -U sa -P S3cretPw", "sqlcmd -S db -U sa -P [scrubbed]"),
        ("mongosh --host db -u bob -p S3cretPw", "mongosh --host db -u bob -p [scrubbed]"),
        ("sqlplus scott/S3cretPw@orcl", "sqlplus scott/[scrubbed]@orcl"),
        ("unzip -P S3cretPw archive.zip", "unzip -P [scrubbed] archive.zip"),
        ("7z x -pS3cretPw archive.7z", "7z x -p[scrubbed] archive.7z"),
        ("xfreerdp /v:host /u:bob /p:S3cretPw", "xfreerdp /v:host /u:bob /p:[scrubbed]"),
        ("lftp -u bob,S3cretPw ftp.local", "lftp -u bob,[scrubbed] ftp.local"),
        ("docker login -u bob -p S3cretPw registry.local", "docker login -u bob -p [scrubbed] registry.local"),
        ("nmcli dev wifi connect Office password S3cretPw", "nmcli dev wifi connect Office password [scrubbed]"),
        ("ipmitool -H bmc -U admin -P S3cretPw power status", "ipmitool -H bmc -U admin -P [scrubbed] power status"),
        ("openssl enc -aes256 -k S3cretPw -in f", "openssl enc -aes256 -k [scrubbed] -in f"),
        ("openssl pkcs12 -passin pass:S3cretPw -in f", "openssl pkcs12 -passin pass:[scrubbed] -in f"),
        ("snmpwalk -v3 -u bob -A S3cretPw -X Priv4te host", "snmpwalk -v3 -u bob -A [scrubbed] -X [scrubbed] host"),
        ("plink -pw S3cretPw host", "plink -pw [scrubbed] host"),
    ],
)
def test_tools_password_options_are_scrubbed(command_line: str, expected: str) -> None:
    assert scrub_command_line(command_line) == expected
    # The same, as argv elements (a collector that keeps the words apart).
    assert scrub({"cmdline": command_line.split(" ")}) == {"cmdline": expected.split(" ")}


@pytest.mark.parametrize(
    "command_line",
    [
        "ssh -p 22 backup.local",
        "scp -P 2222 a host:b",
        "python -p script.py",
        "psql -h db -p 5432 -U bob app",
        "pg_dump -p 5433 app",
        "redis-cli -p 6379 ping",
        "mysql -P 3306 -p shop",
        "docker run -p 8080:80 nginx",
        "nc -l -p 9000",
        "rsync -a -e ssh /src host:/dst",
        "curl -u bob https://x.local",
        "sqlplus /nolog",
        "sshpass -f /etc/pw ssh -p 22 host",
        "net use Z: \\\\files\\share * /user:bob",
        "smbclient -L files -U bob",
        "zip -r out.zip dir",
        "sudo -u alice -p prompt ls",
    ],
)
def test_ordinary_options_of_these_tools_are_left_alone(command_line: str) -> None:
    assert scrub_command_line(command_line) == command_line


def test_an_argument_vector_is_scrubbed_argument_by_argument() -> None:
    from agent.scrub import scrub_argv_line

    argv = ["sshpass", "-p", "opal kettle", "ssh", "-p", "22", "host"]
    line = scrub_argv_line(argv)
    assert "opal" not in line and "kettle" not in line
    assert line.startswith("sshpass -p ") and line.endswith(" ssh -p 22 host")
    # Joined first, the second word of the password would pass for the next argument.
    assert "kettle" in scrub_command_line(" ".join(argv))
