"""Start-up time and size of the frozen bundle, next to the same from the virtual environment.

    .venv/bin/python installer/bench_startup.py [--bundle dist/showdesk] [--runs 5]

For `showdesk --version`, the kiosk (until its window is on an Xvfb screen) and the server
(until /healthz answers) it prints the first run after dropping the page cache (cold; only
where the kernel lets this process drop it, else the first run) and the median of the warm
runs, for the bundle and for `.venv/bin/showdesk`, and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEADLINE_SECONDS = 60.0


def drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def poll(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {DEADLINE_SECONDS} s")
        time.sleep(0.01)  # polling interval of a measurement loop with a deadline


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    sockets = Path("/tmp/.X11-unix")  # noqa: S108 - where every X server puts its socket
    number = 120
    while (sockets / f"X{number}").exists() or (sockets.parent / f".X{number}-lock").exists():
        number += 1
    process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"])
    try:
        poll(lambda: (sockets / f"X{number}").exists(), "Xvfb")
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def time_version(program: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([program, "--version"], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def time_server(program: str, env: dict[str, str], work: Path) -> float:
    port = free_port()

    def healthy() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except OSError:
            return False
        return True

    start = time.perf_counter()
    process = subprocess.Popen(
        [program, "server", "--port", str(port), "--data", str(work / f"server-{port}"), "--no-handover"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(healthy, "the server answering /healthz")
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(15)


def time_kiosk(program: str, env: dict[str, str], display: str) -> float:
    search = ["xdotool", "search", "--onlyvisible", "--name", "^ShowDesk$"]
    shown_env = {**env, "DISPLAY": display}
    start = time.perf_counter()
    process = subprocess.Popen(
        [program, "kiosk", "--windowed"], env=shown_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        poll(lambda: subprocess.run(search, env=shown_env, capture_output=True).returncode == 0, "the kiosk window")
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(15)


def measure(name: str, runs: int, once: Callable[[], float]) -> tuple[float, float, bool]:
    cold = drop_page_cache()
    first = once()
    warm = statistics.median(once() for _ in range(runs))
    return first, warm, cold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=REPO / "dist" / "showdesk")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bundled = str((args.bundle / "showdesk").resolve())
    venv = str(REPO / ".venv" / "bin" / "showdesk")
    for program in (bundled, venv):
        if not Path(program).is_file():
            print(f"bench: {program} is missing (installer/build-bundle.sh, scripts/setup.sh)", file=sys.stderr)
            return 1
    site_packages = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    mib = 2**20
    print(
        f"size: bundle {directory_size(args.bundle) / mib:.0f} MiB; virtual environment "
        f"{directory_size(REPO / '.venv') / mib:.0f} MiB (site-packages {directory_size(site_packages) / mib:.0f} "
        "MiB, with the development tools)"
    )
    with tempfile.TemporaryDirectory() as temp, xvfb() as display:
        work = Path(temp)
        env = {**os.environ, "HOME": str(work / "home"), "XDG_CONFIG_HOME": str(work / "config"),
               "XDG_DATA_HOME": str(work / "data"), "XDG_RUNTIME_DIR": str(work / "runtime"),
               "SHOWDESK_MACHINE_CONFIG": str(work / "machine.toml"), "SHOWDESK_CONFIG": str(work / "user.toml"),
               "SHOWDESK_URL": "http://127.0.0.1:9"}
        env.pop("QT_QPA_PLATFORM", None)
        (work / "runtime").mkdir(mode=0o700)
        cases: dict[str, Callable[[str], float]] = {
            "showdesk --version": lambda program: time_version(program, env),
            "server until /healthz": lambda program: time_server(program, env, work),
        }
        if shutil.which("xdotool"):
            cases["kiosk until its window"] = lambda program: time_kiosk(program, env, display)
        header = ("bundle first", "bundle warm", "venv first", "venv warm", "warm ratio")
        print(f"{'':24} " + " ".join(f"{title:>12}" for title in header))
        for name, case in cases.items():
            b_first, b_warm, cold = measure(name, args.runs, lambda: case(bundled))  # noqa: B023 - called at once
            v_first, v_warm, _ = measure(name, args.runs, lambda: case(venv))  # noqa: B023
            times = (b_first, b_warm, v_first, v_warm)
            print(f"{name:24} " + " ".join(f"{t:11.2f}s" for t in times) + f" {b_warm / v_warm:11.2f}x")
        print("first runs are cold (page cache dropped)" if cold else "first runs: the page cache was not dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
