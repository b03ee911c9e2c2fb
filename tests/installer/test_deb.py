"""The .deb as built by installer/linux/build-deb.sh, from a stand-in bundle (a real bundle takes a minute
to build; installer/linux/ci-package-test.sh installs, upgrades and removes the real one).

What is checked here: the package's metadata and file list, the conffile, the maintainer scripts'
syntax, the desktop entries, and the systemd units with `systemd-analyze verify`.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "installer" / "linux"
UNITS = ("showdesk-server.service", "showdesk-kiosk.service", "showdesk-retention.service", "showdesk-retention.timer")

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    work = tmp_path_factory.mktemp("deb")
    bundle = work / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    program = bundle / "showdesk"
    program.write_text('#!/bin/sh\necho "showdesk 9.9.9"\n')
    program.chmod(0o755)
    (bundle / "_internal" / "marker.txt").write_text("bundle content\n")
    result = subprocess.run(
        [str(LINUX / "build-deb.sh"), str(bundle), str(work / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = Path(result.stdout.strip())
    assert built.is_file()
    return built


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True, timeout=60).stdout


@needs_dpkg
def test_the_package_is_named_and_versioned_from_the_bundle(package: Path) -> None:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    assert package.name == f"showdesk_9.9.9-1_{arch}.deb"
    fields = dpkg_deb("-f", str(package), "Package", "Version", "Depends", "Installed-Size")
    assert "Package: showdesk" in fields and "Version: 9.9.9-1" in fields
    assert "adduser" in fields and "libgl1" in fields
    assert int(re.search(r"Installed-Size: (\d+)", fields).group(1)) > 0  # type: ignore[union-attr]


@needs_dpkg
def test_the_package_installs_the_bundle_the_command_and_the_integration_files(package: Path) -> None:
    listing = dpkg_deb("-c", str(package))
    entries = {line.split()[5].removeprefix("."): line for line in listing.splitlines()}
    for path in (
        "/opt/showdesk/showdesk",
        "/opt/showdesk/_internal/marker.txt",
        "/opt/showdesk/libexec/kiosk-session",
        "/opt/showdesk/libexec/kiosk-xsession",
        "/usr/share/applications/showdesk-agent.desktop",
        "/usr/share/applications/showdesk-tech.desktop",
        "/etc/xdg/autostart/showdesk-agent.desktop",
        "/usr/share/icons/hicolor/scalable/apps/showdesk-agent.svg",
        "/usr/share/doc/showdesk/configuration.md",
        "/usr/share/doc/showdesk/deployment.md",
        "/usr/share/doc/showdesk/server.md",
        "/usr/share/doc/showdesk/copyright",
        *(f"/lib/systemd/system/{unit}" for unit in UNITS),
    ):
        assert path in entries, f"{path} is not in the package"
    assert "/usr/bin/showdesk -> /opt/showdesk/showdesk" in entries["/usr/bin/showdesk"]
    assert entries["/opt/showdesk/libexec/kiosk-session"].startswith("-rwxr-xr-x root/root")
    assert not [p for p in entries if "/var/lib/" in p], "data directories are made by postinst, never shipped"


@needs_dpkg
def test_only_the_autostart_entry_is_a_conffile_and_the_scripts_parse(package: Path, tmp_path: Path) -> None:
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(package), str(control)], check=True, timeout=60)
    assert (control / "conffiles").read_text().split() == ["/etc/xdg/autostart/showdesk-agent.desktop"]
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(control / script, os.X_OK)
        subprocess.run(["sh", "-n", str(control / script)], check=True, timeout=30)
    postrm = (control / "postrm").read_text()
    # Removal keeps the data; only purge deletes it.
    purge_branch = postrm.split("purge)", 1)[1].split(";;", 1)[0]
    assert "rm -rf /var/lib/showdesk" in purge_branch
    assert postrm.count("/var/lib/showdesk ") == 1


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entries_start_the_agent_and_technician_mode_and_autostart_is_off() -> None:
    agent = desktop_entry(LINUX / "desktop" / "showdesk-agent.desktop")
    tech = desktop_entry(LINUX / "desktop" / "showdesk-tech.desktop")
    autostart = desktop_entry(LINUX / "desktop" / "showdesk-agent-autostart.desktop")
    assert agent["Exec"] == "/usr/bin/showdesk agent"
    assert tech["Exec"] == "/usr/bin/showdesk tech"
    # At login the agent starts quietly: the tray icon, no window.
    assert autostart["Exec"] == agent["Exec"] + " --background"
    assert autostart["Hidden"] == "true"
    assert agent["Icon"] == "showdesk-agent" and (REPO / "resources" / "agent" / "showdesk-agent.svg").is_file()
    validate = shutil.which("desktop-file-validate")
    if validate:
        for name in ("showdesk-agent.desktop", "showdesk-tech.desktop", "showdesk-agent-autostart.desktop"):
            result = subprocess.run([validate, str(LINUX / "desktop" / name)], capture_output=True, text=True)
            assert result.returncode == 0 and not result.stdout.strip(), result.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # The units name /opt/showdesk, which exists only once installed: verify copies whose
    # programs point at a stand-in (the package test verifies the installed units as they are).
    program = tmp_path / "showdesk"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    session = tmp_path / "kiosk-session"
    shutil.copy(program, session)
    copies = []
    for unit in UNITS:
        text = (LINUX / "systemd" / unit).read_text()
        text = text.replace("/opt/showdesk/libexec/kiosk-session", str(session))
        text = text.replace("/opt/showdesk/showdesk", str(program))
        (tmp_path / unit).write_text(text)
        copies.append(str(tmp_path / unit))
    result = subprocess.run(
        ["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60, check=False
    )
    about_ours = [line for line in (result.stdout + result.stderr).splitlines() if "showdesk" in line]
    assert result.returncode == 0 and about_ours == [], "\n".join(about_ours)


def test_the_server_unit_keeps_data_under_var_lib_and_restarts_on_failure() -> None:
    unit = (LINUX / "systemd" / "showdesk-server.service").read_text()
    assert "User=showdesk\n" in unit and "StateDirectory=showdesk\n" in unit
    assert "--data /var/lib/showdesk" in unit and "Restart=on-failure\n" in unit
    kiosk = (LINUX / "systemd" / "showdesk-kiosk.service").read_text()
    assert "User=showdesk-kiosk\n" in kiosk and "Restart=always\n" in kiosk
    # A system user has no keyring: the kiosk's token comes from a root-only file, if there is one.
    assert "EnvironmentFile=-/etc/showdesk/kiosk.env\n" in kiosk


def test_the_kiosk_session_says_what_to_install_when_x_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "SHOWDESK_KIOSK_XSERVER": str(tmp_path / "no-such-Xorg")}
    result = subprocess.run(
        ["/bin/sh", str(LINUX / "kiosk" / "kiosk-session")], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 78  # the unit's RestartPreventExitStatus: no restart loop
    assert "apt-get install xserver-xorg-core" in result.stderr and "xinit" in result.stderr
