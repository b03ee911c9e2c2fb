#!/usr/bin/env bash
# Set up everything ShowDesk needs, on a fresh Debian 12 machine too: the system packages
# (installed with apt when run as root) and a local virtual environment in .venv.
# Safe to run again: it installs only what is missing or changed.
#
#   scripts/setup.sh [run|test]    # what the set-up is for (default: test, which needs everything)
#
# Not root and a package missing: it stops with one line naming what to install. Carrying on
# only moved the failure later and made it obscure (a kiosk dying on "libGL.so.1", a virtual
# display said to run that was never installed).
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-test}"
case "$purpose" in run | test) ;; *) echo "setup: usage: scripts/setup.sh [run|test]" >&2; exit 2 ;; esac

# Qt's runtime libraries and fonts so screens render text: the kiosk needs them to start at all;
# libxss1 lets the kiosk see input in the apps it opens under "Show me" (the display's idle time).
RUN_PACKAGES=(
    libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-render0 libxcb-shm0 libxcb-xfixes0 libx11-xcb1
    libglib2.0-0 libpulse0 fonts-dejavu-core
    libxss1
)
# The virtual display: for the tests' real capture, and for scripts/run where there is no display.
DISPLAY_PACKAGES=(xvfb xauth)
# scrot/maim as the capture benchmark's peers, dbus for the portal test bus, xdotool and
# x11-utils to drive and inspect windows in tests; a real Chromium and its WebDriver for the
# pages' tests; the accessibility bus for the step recorder's tests; Debian's PostgreSQL for the
# server's PostgreSQL back end (a throw-away cluster per test session, tests/fixtures/postgres.py);
# ffmpeg (an outside program, never bundled) for the optional WebM clip encoder's tests.
TEST_PACKAGES=(dbus scrot maim xdotool x11-utils chromium chromium-driver at-spi2-core postgresql ffmpeg)

# Root installs everything, so that the other script works afterwards as any user.
ALL_PACKAGES=("${RUN_PACKAGES[@]}" "${DISPLAY_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
NEEDED_PACKAGES=("${ALL_PACKAGES[@]}")
if [ "$purpose" = run ]; then
    NEEDED_PACKAGES=("${RUN_PACKAGES[@]}")
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then NEEDED_PACKAGES+=("${DISPLAY_PACKAGES[@]}"); fi
fi
if [ -n "${SHOWDESK_EXTRA_APT:-}" ]; then
    read -r -a extra <<<"$SHOWDESK_EXTRA_APT"
    ALL_PACKAGES+=("${extra[@]}")
    NEEDED_PACKAGES+=("${extra[@]}")
fi

missing_of() {
    local pkg
    for pkg in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || echo "$pkg"
    done
    python3 -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv
}

if ! command -v dpkg-query >/dev/null; then
    echo "setup: not a Debian-like system, so the system packages are not checked; ShowDesk needs Qt's" \
        "runtime libraries (libGL, libEGL, xcb, xkbcommon) and, without a display, Xvfb" >&2
elif [ "$(id -u)" -eq 0 ]; then
    mapfile -t missing < <(missing_of "${ALL_PACKAGES[@]}")
    if [ "${#missing[@]}" -gt 0 ]; then
        command -v apt-get >/dev/null || { echo "setup: missing system packages and no apt-get to install them: ${missing[*]}" >&2; exit 1; }
        echo "setup: installing system packages: ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    fi
else
    mapfile -t missing < <(missing_of "${NEEDED_PACKAGES[@]}")
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: missing system packages; install them with \`sudo apt-get install ${missing[*]}\`," \
            "or run scripts/$purpose once as root" >&2
        exit 1
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
