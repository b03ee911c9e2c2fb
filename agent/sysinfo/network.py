"""The network and proxy groups: interfaces, default routes, DNS servers, the system's proxies.

Read from the OS's own files and registry where it has them (``/proc/net/route``,
``/etc/resolv.conf``, the Windows registry), else from a platform tool within the time bound.
:func:`system_proxies` is also the proxy the connection check goes through.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import psutil

from agent.scrub import scrub_url
from agent.sysinfo.bounded import run_command
from agent.sysinfo.network_context import desktop_proxies, vpn_interfaces, wifi_info

MAX_INTERFACES: Final = 64


def _family_name(family: int) -> str:
    if family == socket.AF_INET:
        return "IPv4"
    if family == socket.AF_INET6:
        return "IPv6"
    if family == psutil.AF_LINK:
        return "MAC"
    return str(family)


def network_info(deadline: float) -> dict[str, object]:
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    interfaces: list[object] = []
    for name in sorted(set(addresses) | set(stats))[:MAX_INTERFACES]:
        stat = stats.get(name)
        interfaces.append(
            {
                "name": name,
                "up": stat.isup if stat else None,
                "speed_mbps": stat.speed if stat and stat.speed > 0 else None,
                "mtu": stat.mtu if stat else None,
                "addresses": [
                    {"family": _family_name(a.family), "address": a.address, "netmask": a.netmask}
                    for a in addresses.get(name, [])
                ],
            }
        )
    routes, route_source = _default_routes(deadline)
    dns, dns_source, upstream = _dns_servers()
    return {
        "interfaces_up": [
            name for name, stat in sorted(stats.items()) if stat.isup and not name.startswith(("lo", "Loopback"))
        ],
        "default_gateways": [route["gateway"] for route in routes or [] if route.get("gateway")],
        "wifi": wifi_info(deadline),
        "vpn": vpn_interfaces(),
        "interfaces": interfaces,
        "default_routes": routes,
        # False when this OS did not tell: then an empty list says nothing about the machine.
        "default_route_known": routes is not None,
        "default_route_source": route_source,
        "dns_servers": dns,
        "dns_upstream_servers": upstream,
        "dns_source": dns_source,
    }


def _default_routes(deadline: float) -> tuple[list[dict[str, object]] | None, str | None]:
    routes: list[dict[str, object]] | None = None
    source: str | None = None
    if sys.platform.startswith("linux"):
        routes, source = _linux_default_routes()
    elif sys.platform == "darwin":
        output = run_command(["route", "-n", "get", "default"], deadline)
        if output:
            fields = dict(line.strip().partition(": ")[::2] for line in output.splitlines() if ": " in line)
            source, routes = "route -n get default", []
            if "gateway" in fields or "interface" in fields:
                routes = [{"family": "IPv4", "gateway": fields.get("gateway"), "interface": fields.get("interface")}]
    elif sys.platform == "win32":
        routes, source = _windows_registry_network("gateways"), "registry"
    return routes, source


def _linux_default_routes() -> tuple[list[dict[str, object]] | None, str | None]:
    routes: list[dict[str, object]] = []
    readable = False
    route_up, route_gateway, route_reject = 0x1, 0x2, 0x200
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            columns = line.split()
            readable = True
            if len(columns) < 8 or columns[1] != "00000000" or columns[7] != "00000000":
                continue
            flags = int(columns[3], 16)
            if not flags & route_up or flags & route_reject:
                continue
            gateway = None
            if flags & route_gateway:
                gateway = str(ipaddress.IPv4Address(int(columns[2], 16).to_bytes(4, "little")))
            routes.append({"family": "IPv4", "gateway": gateway, "interface": columns[0]})
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            columns = line.split()
            readable = True
            if len(columns) < 10 or columns[0] != "0" * 32 or columns[1] != "00" or columns[9] == "lo":
                continue
            flags = int(columns[8], 16)
            if not flags & route_up or flags & route_reject:
                continue
            gateway = str(ipaddress.IPv6Address(bytes.fromhex(columns[4]))) if flags & route_gateway else None
            routes.append({"family": "IPv6", "gateway": gateway, "interface": columns[9]})
    if not readable:
        return None, None
    return routes, "/proc/net/route"


def _dns_servers() -> tuple[list[str] | None, str | None, list[str] | None]:
    if sys.platform == "win32":
        return _windows_registry_network("dns"), "registry", None
    servers = _resolv_conf(Path("/etc/resolv.conf"))
    upstream = None
    # systemd-resolved puts its local stub in resolv.conf; the real servers are here.
    if servers and all(server.startswith("127.") for server in servers):
        upstream = _resolv_conf(Path("/run/systemd/resolve/resolv.conf"))
    return servers, "/etc/resolv.conf" if servers is not None else None, upstream


def _resolv_conf(path: Path) -> list[str] | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def _windows_registry_network(what: str) -> Any:
    """Default gateways (``what="gateways"``) or DNS servers from the registry; None elsewhere."""
    if sys.platform == "win32":
        return _read_tcpip_registry(what)
    return None


if sys.platform == "win32":
    import winreg

    def _read_tcpip_registry(what: str) -> list[Any] | None:
        names = ("DefaultGateway", "DhcpDefaultGateway") if what == "gateways" else ("NameServer", "DhcpNameServer")
        found: list[Any] = []
        root = r"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters\Interfaces"
        try:
            interfaces = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, root)
        except OSError:
            return None
        with interfaces:
            for index in range(winreg.QueryInfoKey(interfaces)[0]):
                interface = winreg.EnumKey(interfaces, index)
                for value_name in names:
                    with contextlib.suppress(OSError), winreg.OpenKey(interfaces, interface) as key:
                        value = winreg.QueryValueEx(key, value_name)[0]
                        items = value if isinstance(value, list) else str(value).replace(",", " ").split()
                        for item in items:
                            if not item or item == "0.0.0.0":  # noqa: S104 - the "no gateway" placeholder
                                continue
                            if what == "gateways":
                                found.append({"family": "IPv4", "gateway": item, "interface": interface})
                            elif item not in found:
                                found.append(item)
        return found


_PROXY_VARIABLES: Final = ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "socks_proxy", "no_proxy")


def system_proxies() -> dict[str, str]:
    """The proxies this system tells programs to use, by scheme (``urllib.request.getproxies()``).

    Where they come only from the environment (Linux and other Unix), they are read here
    the way urllib reads them, without importing urllib.request (20 ms of a capture).
    """
    if sys.platform in ("darwin", "win32"):
        import urllib.request

        return urllib.request.getproxies()
    return _environment_proxies(os.environ)


def _environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    # As urllib.request.getproxies_environment: any case of NAME_proxy, the lower-case
    # spelling winning; an empty lower-case one removes the scheme; no HTTP_PROXY under CGI.
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6].lower()] = value
            else:
                proxies.pop(name[:-6].lower(), None)
    return proxies


def proxy_info(deadline: float) -> dict[str, object]:
    environment = {
        name: scrub_url(value) for name, value in sorted(os.environ.items()) if name.lower() in _PROXY_VARIABLES
    }
    effective = {scheme: scrub_url(url) for scheme, url in sorted(system_proxies().items())}
    # The desktop's settings apply to its own programs (browsers, GNOME and KDE apps), not to
    # ShowDesk's connection, which follows the environment: both are shown, told apart.
    return {"environment": environment, "effective": effective, "desktop": desktop_proxies(deadline)}
