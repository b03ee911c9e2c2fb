"""Network context: VPN interfaces (a real tunnel device in a namespace), the desktop's proxy settings
(GNOME through the real gsettings with a key file of its own, KDE's kioslaverc), Wi-Fi signal lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from agent.sysinfo.network import network_info, proxy_info
from agent.sysinfo.network_context import parse_wireless_stats


def _netns_usable() -> str | None:
    if sys.platform != "linux" or shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs Linux network namespaces (unshare, ip)"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "true"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        return f"cannot make a network namespace here (needs root or CAP_NET_ADMIN): {probe.stderr.strip()}"
    return None


_WHY_NOT = _netns_usable()


@pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or "")
def test_a_tunnel_device_is_reported_as_a_vpn_with_no_default_route(tmp_path: Path) -> None:
    child = tmp_path / "child.py"
    child.write_text(
        textwrap.dedent(
            """
            import json, time
            from agent.sysinfo.network import network_info
            print(json.dumps(network_info(time.monotonic() + 5.0)))
            """
        )
    )
    # "corp0" is no VPN name: it is found by what it is, a tunnel device without hardware.
    # sysfs mounted again in the namespace, as a machine's own /sys shows its own interfaces.
    setup = (
        "mount -t sysfs sysfs /sys && ip link set lo up && ip tuntap add dev corp0 mode tun"
        " && ip addr add 10.8.0.2/24 dev corp0"
    )
    done = subprocess.run(
        [
            "unshare",
            "--net",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"{setup} && ip link set corp0 up && exec {sys.executable} {child}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    network: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    [vpn] = network["vpn"]
    assert vpn["interface"] == "corp0" and vpn["why"] == "a tunnel device without hardware"
    assert "10.8.0.2" in vpn["addresses"]
    assert network["default_gateways"] == [] and network["default_routes"] == []
    # No VPN program holds the tunnel open: the device exists but carries nothing, and says so.
    assert vpn["up"] is False and network["interfaces_up"] == []


def test_gnome_proxy_settings_are_read_through_gsettings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("gsettings") is None:
        pytest.skip("needs gsettings (libglib2.0-bin) and the GNOME proxy schema (gsettings-desktop-schemas)")
    settings = tmp_path / "glib-2.0" / "settings"
    settings.mkdir(parents=True)
    (settings / "keyfile").write_text(
        "[system/proxy]\nmode='manual'\nignore-hosts=['localhost', '*.corp']\n\n"
        "[system/proxy/https]\nhost='proxy.corp.example'\nport=3128\n"
    )
    # GLib's key-file back end reads settings from a plain file: the real dconf is never touched.
    monkeypatch.setenv("GSETTINGS_BACKEND", "keyfile")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "GNOME")
    desktop: Any = proxy_info(time.monotonic() + 5.0)["desktop"]
    gnome = desktop["gnome"]
    if gnome["mode"] == "none" and "https" not in gnome:
        pytest.skip("this gsettings has no key-file back end")
    assert gnome["mode"] == "manual"
    assert gnome["https"] == "proxy.corp.example:3128"
    assert "*.corp" in gnome["no_proxy"]


def test_kde_proxy_settings_are_read_with_the_password_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kioslaverc").write_text(
        "[Proxy Settings]\nProxyType=1\nhttpProxy=http://dora:s3cret@proxy.corp.example 8080\n"
        "httpsProxy=http://proxy.corp.example 8080\nNoProxyFor=localhost,.corp\n"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CURRENT_DESKTOP", raising=False)
    monkeypatch.delenv("GSETTINGS_BACKEND", raising=False)
    desktop: Any = proxy_info(time.monotonic() + 5.0)["desktop"]
    kde = desktop["kde"]
    assert kde["mode"] == "manual"
    assert kde["https"] == "http://proxy.corp.example:8080"
    assert "s3cret" not in json.dumps(kde) and kde["http"] == "http://[scrubbed]@proxy.corp.example:8080"
    assert kde["no_proxy"] == "localhost,.corp"


def test_wireless_signal_lines_are_read_as_the_kernel_writes_them(tmp_path: Path) -> None:
    stats = tmp_path / "wireless"
    stats.write_text(
        "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
        " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
        "wlp2s0: 0000   49.  -61.  -256        0      0      0      0     12        0\n"
    )
    assert parse_wireless_stats(stats) == {"wlp2s0": {"quality_percent": 70, "signal_dbm": -61.0}}


def test_the_network_group_says_which_interfaces_are_up_and_the_gateways() -> None:
    network: Any = network_info(time.monotonic() + 5.0)
    up = [interface["name"] for interface in network["interfaces"] if interface["up"] and interface["name"] != "lo"]
    assert network["interfaces_up"] == up
    assert network["default_gateways"] == [r["gateway"] for r in network["default_routes"] if r["gateway"]]
    assert isinstance(network["vpn"], list)
    assert network["wifi"] is None or isinstance(network["wifi"], list)
