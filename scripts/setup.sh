#!/usr/bin/env bash
# Set up everything ShowDesk needs, on a fresh Debian 12 machine too: the system packages
# (installed with apt when run as root) and a local virtual environment in .venv.
# Safe to run again: it installs only what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Qt's runtime libraries, Xvfb for real capture in tests, scrot/maim as the capture
# benchmark's peers, dbus for the portal test bus, fonts so screens render text.
APT_PACKAGES=(
    xvfb xauth libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-render0 libxcb-shm0 libxcb-xfixes0 libx11-xcb1
    libglib2.0-0 libpulse0 fonts-dejavu-core dbus scrot maim xdotool x11-utils
)
if [ -n "${SHOWDESK_EXTRA_APT:-}" ]; then read -r -a extra <<<"$SHOWDESK_EXTRA_APT"; APT_PACKAGES+=("${extra[@]}"); fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
done
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing system packages: ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    else
        echo "setup: missing system packages (run as root, or install them): ${missing[*]}" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    python3 -m venv .venv
fi
stamp="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat .venv/.setup-stamp 2>/dev/null || true)" != "$stamp" ]; then
    echo "setup: installing Python packages into .venv (log: .venv/setup.log)" >&2
    if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip \
           && .venv/bin/python -m pip install --disable-pip-version-check -e '.[dev]'; } > .venv/setup.log 2>&1; then
        tail -n 40 .venv/setup.log >&2
        echo "setup: installing Python packages failed; the whole log is .venv/setup.log" >&2
        exit 1
    fi
    echo "$stamp" > .venv/.setup-stamp
fi
