"""Network context a technician asks about: Wi-Fi (name and signal, where the OS says), VPN interfaces,
and the desktop's own proxy settings (GNOME's gsettings, KDE's kioslaverc) beside the environment's.

Each reads the OS's files first (``/proc/net/wireless``, ``/sys/class/net``, ``kioslaverc``) and
runs a platform tool (``iw``, ``netsh``, ``gsettings``) only where one is needed and present,
within the snapshot's bound. What the OS does not say is left out, never guessed.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Final

import psutil

from agent.scrub import scrub_url
from agent.sysinfo.bounded import run_command

WIRELESS_STATS: Final = Path("/proc/net/wireless")
_SYS_NET: Final = Path("/sys/class/net")
# Interface names VPN clients use: tun/tap (OpenVPN, many), wg (WireGuard), ppp (PPTP, L2TP),
# ipsec/vti (strongSwan), utun (macOS), tailscale, zt (ZeroTier), nordlynx, cscotun (Cisco).
_VPN_PREFIXES: Final = ("tun", "tap", "wg", "ppp", "ipsec", "vti", "utun", "tailscale", "zt", "nordlynx", "cscotun")
_VPN_WORDS: Final = ("vpn", "wireguard", "anyconnect", "fortinet", "forticlient", "globalprotect", "tap-windows")
_ARPHRD_NONE: Final = "65534"  # a point-to-point device without hardware (tun): how VPNs look to Linux


def vpn_interfaces() -> list[dict[str, object]]:
    """Interfaces that look like a VPN's, with whether they are up and why they count as one."""
    stats = psutil.net_if_stats()
    addresses = psutil.net_if_addrs()
    found: list[dict[str, object]] = []
    for name in sorted(set(stats) | set(addresses)):
        why = None
        lowered = name.lower()
        if lowered.startswith(_VPN_PREFIXES):
            why = "its name is a VPN's"
        elif any(word in lowered for word in _VPN_WORDS):
            why = "its name is a VPN client's"
        else:
            try:
                if (_SYS_NET / name / "type").read_text().strip() == _ARPHRD_NONE:
                    why = "a tunnel device without hardware"
            except OSError:
                pass
        if why is None:
            continue
        stat = stats.get(name)
        found.append(
            {
                "interface": name,
                "up": stat.isup if stat else None,
                "addresses": [entry.address for entry in addresses.get(name, []) if entry.family != psutil.AF_LINK],
                "why": why,
            }
        )
    return found


def wifi_info(deadline: float) -> list[dict[str, object]] | None:
    """Each wireless interface with its network name and signal; None where this OS did not tell."""
    if sys.platform == "win32":
        return _windows_wifi(run_command(["netsh", "wlan", "show", "interfaces"], deadline))
    # Linux says it in its files; elsewhere (macOS) no tool without extra rights does: None.
    return _linux_wifi(deadline) if sys.platform.startswith("linux") else None


def _linux_wifi(deadline: float, stats_file: Path = WIRELESS_STATS) -> list[dict[str, object]]:
    signals = parse_wireless_stats(stats_file)
    names = set(signals)
    with contextlib.suppress(OSError):
        names |= {entry.name for entry in _SYS_NET.iterdir() if (entry / "wireless").exists()}
    found = []
    iw = shutil.which("iw")
    for name in sorted(names):
        entry: dict[str, object] = {"interface": name, **signals.get(name, {})}
        if iw is not None:
            link = run_command([iw, "dev", name, "link"], deadline)
            for line in link.splitlines():
                key, _, value = line.strip().partition(": ")
                if key == "SSID":
                    entry["ssid"] = value
                elif key == "signal":
                    entry["signal_dbm"] = _leading_number(value)
            if link.startswith("Not connected"):
                entry["connected"] = False
        found.append(entry)
    return found


def parse_wireless_stats(path: Path = WIRELESS_STATS) -> dict[str, dict[str, object]]:
    """``/proc/net/wireless``: per interface, the link quality (of 70) and the signal level in dBm."""
    try:
        lines = path.read_text().splitlines()[2:]
    except OSError:
        return {}
    found: dict[str, dict[str, object]] = {}
    for line in lines:
        name, _, rest = line.partition(":")
        columns = rest.split()
        if len(columns) < 3:
            continue
        quality, level = _leading_number(columns[1]), _leading_number(columns[2])
        found[name.strip()] = {
            "quality_percent": round(quality * 100 / 70) if quality is not None else None,
            "signal_dbm": level,
        }
    return found


def _leading_number(text: str) -> float | None:
    """The number a field starts with ("-56." in /proc/net/wireless, "-61 dBm" from iw, "87%" from netsh)."""
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)", text)
    return float(match.group(1)) if match else None


def _windows_wifi(output: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    entry: dict[str, object] = {}
    for line in output.splitlines():
        key, _, value = line.strip().partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "name":
            entry = {"interface": value}
            found.append(entry)
        elif key == "ssid" and entry:
            entry["ssid"] = value
        elif key == "signal" and entry:
            entry["quality_percent"] = _leading_number(value)
        elif key == "state" and entry:
            entry["connected"] = value.lower() == "connected"
    return found


def desktop_proxies(deadline: float) -> dict[str, object]:
    """The desktop's own proxy settings: GNOME (gsettings) and KDE (kioslaverc), where present."""
    found: dict[str, object] = {}
    kde = _kde_proxies()
    if kde is not None:
        found["kde"] = kde
    if sys.platform.startswith("linux") and _gnome_like():
        gnome = _gnome_proxies(deadline)
        if gnome is not None:
            found["gnome"] = gnome
    return found


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def _gnome_like() -> bool:
    desktop = os.environ.get("XDG_CURRENT_DESKTOP", "").lower()
    gnome_family = ("gnome", "unity", "cinnamon", "mate", "budgie", "pantheon", "xfce")
    return (
        any(name in desktop for name in gnome_family)
        or (_config_home() / "dconf" / "user").exists()
        or bool(os.environ.get("GSETTINGS_BACKEND"))
    )


_KDE_PROXY_TYPES: Final = {
    "0": "none",
    "1": "manual",
    "2": "automatic, from a script (PAC)",
    "3": "automatic (WPAD)",
    "4": "from the environment",
}


def _kde_proxies() -> dict[str, object] | None:
    path = _config_home() / "kioslaverc"
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(errors="replace"))
    except (OSError, configparser.Error):
        return None
    if not parser.has_section("Proxy Settings"):
        return None
    section = parser["Proxy Settings"]
    kind = section.get("ProxyType", "0")
    settings: dict[str, object] = {"mode": _KDE_PROXY_TYPES.get(kind, f"type {kind}"), "source": str(path)}
    for key, label in (("httpProxy", "http"), ("httpsProxy", "https"), ("ftpProxy", "ftp"), ("socksProxy", "socks")):
        value = section.get(key, "").strip()
        if value:
            # KDE writes "http://host port" with a space before the port.
            settings[label] = scrub_url(value.replace(" ", ":"))
    if section.get("Proxy Config Script"):
        settings["script"] = scrub_url(section["Proxy Config Script"])
    if section.get("NoProxyFor"):
        settings["no_proxy"] = section["NoProxyFor"]
    return settings


def _gnome_proxies(deadline: float) -> dict[str, object] | None:
    gsettings = shutil.which("gsettings")
    if gsettings is None:
        return None
    output = run_command([gsettings, "list-recursively", "org.gnome.system.proxy"], deadline)
    if not output:
        return None
    values: dict[str, str] = {}
    for line in output.splitlines():
        schema, _, rest = line.partition(" ")
        key, _, value = rest.partition(" ")
        values[f"{schema.removeprefix('org.gnome.system.proxy').lstrip('.')}.{key}".lstrip(".")] = value.strip("'")
    settings: dict[str, object] = {"mode": values.get("mode", "none"), "source": "gsettings org.gnome.system.proxy"}
    if settings["mode"] == "manual":
        for scheme in ("http", "https", "ftp", "socks"):
            host, port = values.get(f"{scheme}.host"), values.get(f"{scheme}.port")
            if host:
                settings[scheme] = scrub_url(f"{host}:{port}" if port and port != "0" else host)
        if values.get("ignore-hosts"):
            settings["no_proxy"] = values["ignore-hosts"]
        if values.get("http.use-authentication") == "true":
            settings["authentication"] = "a user name and password are set"
    elif settings["mode"] == "auto" and values.get("autoconfig-url"):
        settings["script"] = scrub_url(values["autoconfig-url"])
    return settings
