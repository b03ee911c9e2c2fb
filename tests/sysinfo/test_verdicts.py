"""Connection verdicts under real faults: a network without a route, a dead or silent name server,
a dead proxy, a proxy wanting credentials, a server whose clock differs.

The network faults are made for real in a network and mount namespace of their own (a child
process under ``unshare``, with ``/etc/resolv.conf`` bind-mounted there only): the machine's own
network and files are never touched. Without the privilege (CI as a plain user) those tests skip
and say why.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from agent.flags import compute_flags
from agent.sysinfo import SysinfoOptions, check_connectivity, collect

CHILD_TIMEOUT = 60.0


def _namespaces_usable() -> str | None:
    """Why the namespace tests cannot run here, or None when they can."""
    if sys.platform != "linux":
        return "network namespaces are a Linux feature"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs the unshare and ip commands (util-linux, iproute2)"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "true"], capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    if probe.returncode != 0:
        return f"cannot make a network namespace here (needs root or CAP_SYS_ADMIN): {probe.stderr.strip()}"
    return None


_WHY_NOT = _namespaces_usable()
needs_namespaces = pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or "")


def _in_namespace(code: str, tmp_path: Path, *, resolv_conf: str | None = None) -> dict[str, Any]:
    """Run ``code`` (which prints one JSON line last) in a fresh network namespace with only lo up.

    With ``resolv_conf``, the namespace's /etc/resolv.conf is a file with that text (bind-mounted
    in the child's own mount namespace: the machine's file is untouched).
    """
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    setup = ["ip link set lo up"]
    if resolv_conf is not None:
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(resolv_conf)
        setup.append(f"mount --bind {resolv} /etc/resolv.conf")
    setup.append(f"exec {sys.executable} {script}")
    done = subprocess.run(
        ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", " && ".join(setup)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


_CHECK = """
import json, sys, time
from agent.flags import compute_flags
from agent.sysinfo import check_connectivity
result = check_connectivity({url!r}, time.monotonic() + {bound})
flags = compute_flags({{"connectivity": result}})
print(json.dumps({{"result": result, "flags": [flag.to_dict() for flag in flags]}}))
"""


@needs_namespaces
def test_no_route_names_the_kernels_reason_not_a_missing_address(tmp_path: Path) -> None:
    answer = _in_namespace(_CHECK.format(url="http://10.99.0.1:8080", bound=5.0), tmp_path)
    result = answer["result"]
    assert isinstance(result, dict)
    assert result["verdict"] == "failed" and result["failed_step"] == "route"
    assert result["reason"] == "no route to the help desk 10.99.0.1: network is unreachable"
    assert result["summary"] == "Route failed: no route to the help desk 10.99.0.1: network is unreachable"
    [flag] = answer["flags"]
    assert flag["severity"] == "critical" and flag["code"] == "backend_unreachable"
    assert "network is unreachable" in flag["message"] and "no address to connect to" not in flag["message"]
    assert ["Route", "FAILED: no route to the help desk 10.99.0.1: network is unreachable"] in flag["evidence"]


@needs_namespaces
def test_a_dead_name_server_with_the_backend_answering_by_address(tmp_path: Path) -> None:
    # Inside the namespace: the help desk listens on 127.0.0.1 and was reached before by its
    # name (its address is remembered); the only name server, 127.0.0.1, has nothing on port 53.
    code = """
    import http.server, json, threading, time
    from agent.flags import compute_flags
    from agent.sysinfo import address_memory, check_connectivity

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address_memory.remember("help.showdesk.test", "127.0.0.1")
    result = check_connectivity(f"http://help.showdesk.test:{server.server_address[1]}", time.monotonic() + 5.0)
    print(json.dumps({"result": result, "flags": [flag.to_dict() for flag in compute_flags({"connectivity": result})]}))
    """
    answer = _in_namespace(code, tmp_path, resolv_conf="nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
    result = answer["result"]
    assert isinstance(result, dict)
    assert result["verdict"] == "failed" and result["failed_step"] == "dns", result
    reason = str(result["reason"])
    assert reason.startswith("the name help.showdesk.test could not be looked up (")
    assert "(asked 127.0.0.1); 127.0.0.1: nothing answers there (port 53 unreachable)" in reason
    assert result["by_address"]["answered"] is True
    assert "the help desk answers at its last known address 127.0.0.1 (connected in" in str(result["summary"])
    assert "so the network works: only the name fails" in str(result["summary"])
    [flag] = answer["flags"]
    assert flag["severity"] == "critical"
    assert ["By address", result["by_address"]["detail"]] in flag["evidence"]


_SILENT_RESOLVER = """
import json, socket, sys, time
from agent.flags import compute_flags
from agent.sysinfo import check_connectivity
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
silent.bind(("127.0.0.1", 53))  # takes the questions, answers none
result = check_connectivity("http://help.showdesk.test", time.monotonic() + {bound})
flags = compute_flags({{"connectivity": result}})
print(json.dumps({{"result": result, "flags": [flag.to_dict() for flag in flags]}}))
"""


@needs_namespaces
def test_a_silent_name_server_within_a_short_bound_is_not_checked_in_time_never_unreachable(tmp_path: Path) -> None:
    answer = _in_namespace(_SILENT_RESOLVER.format(bound=0.3), tmp_path, resolv_conf="nameserver 127.0.0.1\n")
    result = answer["result"]
    assert isinstance(result, dict)
    assert result["verdict"] == "not_checked_in_time" and result["reachable"] is None, result
    assert result["failed_step"] is None
    assert str(result["summary"]).startswith(
        "Not checked in time at the step name lookup: still waiting for the name lookup of help.showdesk.test"
        " (asked 127.0.0.1) after "
    )
    assert [(flag["code"], flag["severity"]) for flag in answer["flags"]] == [("connection_not_checked", "info")]


@needs_namespaces
def test_a_silent_name_server_given_time_does_not_answer(tmp_path: Path) -> None:
    answer = _in_namespace(_SILENT_RESOLVER.format(bound=3.0), tmp_path, resolv_conf="nameserver 127.0.0.1\n")
    result = answer["result"]
    assert isinstance(result, dict)
    assert result["verdict"] == "failed" and result["failed_step"] == "dns", result
    assert str(result["reason"]).startswith(
        "the name lookup of help.showdesk.test (asked 127.0.0.1) did not answer within "
    )
    assert [(flag["code"], flag["severity"]) for flag in answer["flags"]] == [("backend_unreachable", "critical")]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_dead_proxy_in_the_environment_is_named_with_its_address(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv(f"{scheme}_proxy", f"http://127.0.0.1:{port}")
    result: Any = check_connectivity(f"{scheme}://help.example.org", time.monotonic() + 5.0)
    assert result["verdict"] == "failed" and result["failed_step"] == "proxy", result
    assert result["reason"] == f"the proxy at 127.0.0.1:{port} refuses connections (connection refused)"
    steps = {step["step"]: step["state"] for step in result["steps"]}
    # Not blamed on name resolution: the backend's name is the proxy's to look up.
    assert steps["dns"] == "skipped" and steps["tcp"] == "skipped"


def _one_answer(answer: bytes) -> Iterator[int]:
    """A TCP server on 127.0.0.1 answering each connection with ``answer`` after its request head."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            if stop.is_set():  # the wake-up connection at the end
                peer.close()
                return
            with peer:
                peer.settimeout(5.0)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = peer.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                peer.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        # accept() is not woken by close() on every system: one last connection wakes it.
        with contextlib.suppress(OSError), socket.create_connection(listener.getsockname(), timeout=5.0):
            pass
        thread.join(timeout=5.0)
        listener.close()


def test_a_proxy_wanting_credentials_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for port in _one_answer(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"):
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
        result = check_connectivity("https://help.example.org", time.monotonic() + 5.0)
        assert result["failed_step"] == "proxy"
        assert result["reason"] == (
            f"the proxy at 127.0.0.1:{port} asks for a user name and password, and none is set (HTTP 407)"
        )


def test_a_clock_three_days_behind_the_server_is_measured_and_flagged() -> None:
    server_time = time.time() + 3 * 86400  # the server is 3 days ahead: this machine is behind
    head = f"HTTP/1.1 200 OK\r\nDate: {formatdate(server_time, usegmt=True)}\r\nContent-Length: 0\r\n\r\n"
    for port in _one_answer(head.encode("ascii")):
        snapshot = collect(
            SysinfoOptions(timeout=5.0, backend_url=f"http://127.0.0.1:{port}", exclude=["processes", "cpu"])
        )
    check = snapshot["connectivity"]
    assert isinstance(check, dict)
    offset = check["clock_offset_seconds"]
    assert isinstance(offset, float) and abs(offset + 3 * 86400) <= 2, offset
    clock = snapshot["clock"]
    assert isinstance(clock, dict) and clock["offset_seconds"] == offset
    flags = [flag for flag in compute_flags(snapshot) if flag.code == "clock_offset"]
    [flag] = flags
    assert flag.severity == "critical"
    assert flag.message.startswith("This computer's clock is 3 d 0 h behind the help desk's")


def test_the_built_in_servers_date_gives_a_clock_in_step(shared_server: Any) -> None:
    # The real server (uvicorn) sends Date on every answer: this machine's clock is its own.
    snapshot: Any = collect(SysinfoOptions(timeout=5.0, backend_url=shared_server.url, exclude=["processes", "cpu"]))
    check = snapshot["connectivity"]
    assert check["verdict"] == "reachable", check
    assert isinstance(check["server_date"], str) and abs(check["clock_offset_seconds"]) <= 2
    assert snapshot["clock"]["compared_with"] == f"the Date the help desk at {shared_server.url} sent"
    assert [flag.code for flag in compute_flags(snapshot) if flag.group == "clock"] == []


@needs_namespaces
def test_a_gateway_that_does_not_answer_is_the_verdict_not_the_connection(tmp_path: Path) -> None:
    # A network with a default route through 10.77.0.1, which nobody is: the kernel asks for its
    # hardware address and gets no answer (about 3 s), then gives up on the connection.
    code = _CHECK.format(url="http://10.99.0.1:8080", bound=6.0)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    setup = (
        "ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.77.0.2/24 dev v0"
        " && ip link set v0 up && ip link set v1 up && ip route add default via 10.77.0.1"
    )
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", f"{setup} && exec {sys.executable} {script}"],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    result = answer["result"]
    assert result["verdict"] == "failed" and result["failed_step"] == "gateway", result
    assert result["reason"] == (
        "the gateway 10.77.0.1 does not answer on the local network (its hardware address could not be found)"
    )
    steps = {step["step"]: step for step in result["steps"]}
    assert steps["route"]["detail"].startswith(
        "the help desk 10.99.0.1 is reached over v0 through the gateway 10.77.0.1"
    )
    assert steps["tcp"]["detail"] == "cannot connect to 10.99.0.1 port 8080: no route to host"
