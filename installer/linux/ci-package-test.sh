#!/usr/bin/env bash
# CI: build the bundle and the .deb, then install, use, upgrade and remove the package on this
# machine, as an administrator would. Run as root on Debian 12 after the test suite:
#
#   installer/linux/ci-package-test.sh [--keep DIR]
#
# --keep DIR keeps the bundle (DIR/showdesk) and the first .deb in DIR, e.g. for
# bench/cold_start.py; otherwise everything it builds is deleted at the end.
#
#  1. build the one-folder bundle (installer/build-bundle.sh; PyInstaller into .venv if missing)
#  2. check what is in it (tests/installer/test_bundle.py) and smoke-test it (installer/smoke-test.sh)
#  3. build the .deb twice (version -1 and -2, for the upgrade)
#  4. install -1: the command on the PATH, the users, the data directories; the installed units
#     pass `systemd-analyze verify`; the desktop entries pass desktop-file-validate
#  5. the smoke test through the installed command; the server run as its unit runs it (its user,
#     /var/lib/showdesk); the kiosk session (xinit, the kiosk alone) on Xvfb instead of Xorg
#  6. upgrade to -2: the data is still there; remove: the program goes, the data stays;
#     purge: the data goes too
#
# systemd is not PID 1 in CI, so the units are verified and their command lines run as their
# users, but `systemctl start` is not tried. Everything it starts it stops (each in its own
# process group); the package is purged at the end even when a step fails, so the test can
# run again. Any failure ends with one line "package test: FAILED ...". It purges a showdesk
# package it finds installed, data included: never run it where ShowDesk's data matters.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
keep=""
if [ "${1:-}" = "--keep" ]; then keep="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2; fi
started=$SECONDS
phase_started=$SECONDS
current_phase="starting"
failed=""
phase() {
    echo "== package test: $* (previous step $((SECONDS - phase_started)) s, total $((SECONDS - started)) s)" >&2
    phase_started=$SECONDS
    current_phase="$*"
}
fail() { failed="$*"; exit 1; }
failed_command=""
trap 'failed_command="line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" -eq 0 ] || { echo "package test: FAILED: run as root: it installs and removes a package" >&2; exit 1; }
[ -x .venv/bin/python ] || scripts/setup.sh

# ---------------------------------------------------------------- tools this test needs
needed=()
command -v systemd-analyze >/dev/null || needed+=(systemd)
command -v desktop-file-validate >/dev/null || needed+=(desktop-file-utils)
command -v xinit >/dev/null || needed+=(xinit)
command -v xauth >/dev/null || needed+=(xauth)
command -v xdotool >/dev/null || needed+=(xdotool)
command -v Xvfb >/dev/null || needed+=(xvfb)
command -v python3 >/dev/null || needed+=(python3)
apt_updated=""
apt_install() {
    [ -n "$apt_updated" ] || DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    apt_updated=yes
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}
if [ "${#needed[@]}" -gt 0 ]; then
    phase "installing ${needed[*]}"
    apt_install "${needed[@]}"
fi

# Whether dpkg knows showdesk as (partly) installed; a purged package reads "not-installed".
package_present() {
    local status
    status="$(dpkg-query -W -f='${db:Status-Status}' showdesk 2>/dev/null || true)"
    [ -n "$status" ] && [ "$status" != not-installed ]
}

work="$(mktemp -d)"
pids=()  # each a process-group leader (started with setsid): stopping it stops all it started
stop_group() {
    kill -TERM -- "-$1" 2>/dev/null || true
    local end=$((SECONDS + 15))
    while kill -0 -- "-$1" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
    kill -KILL -- "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM ERR
    set +e
    for pid in "${pids[@]}"; do stop_group "$pid"; done
    if [ "$status" -ne 0 ]; then
        for log in "$work"/*.log; do
            [ -s "$log" ] || continue
            echo "---- last lines of $(basename "$log")" >&2
            tail -n 20 "$log" >&2
        done
    fi
    if package_present; then dpkg --purge showdesk >/dev/null 2>&1; fi
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then
        echo "package test: FAILED at step '$current_phase' after $((SECONDS - started)) s:" \
            "${failed:-exit status $status of ${failed_command:-a command} (see above)}" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'failed="interrupted"; exit 130' INT TERM

wait_for() {  # wait_for WHAT SECONDS COMMAND...: poll until COMMAND succeeds
    local what="$1" limit="$2"; shift 2
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || fail "$what did not happen within ${limit}s"
        sleep 0.1
    done
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
healthz() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2)' "$1"; }
free_display() {
    local n=100
    while [ -e "/tmp/.X${n}-lock" ] || [ -e "/tmp/.X11-unix/X${n}" ]; do n=$((n + 1)); done
    echo "$n"
}

# ---------------------------------------------------------------- 1-2: the bundle
phase "building the bundle"
installer/build-bundle.sh "$work/dist" "$work/pyinstaller"
bundle="$work/dist/showdesk"
version="$("$bundle/showdesk" --version | awk '{print $2}')"
[ "$version" = "$(.venv/bin/python -c 'from installer.bundle_contents import project_version; print(project_version())')" ] \
    || fail "the bundle says version $version, pyproject.toml another"

phase "checking the bundle's contents (tests/installer/test_bundle.py)"
SHOWDESK_BUNDLE_DIR="$bundle" .venv/bin/python -m pytest -q -p no:cacheprovider -rs tests/installer/test_bundle.py \
    | tee "$work/bundle-test.log" >&2
# A skipped check here would be a check not made: the bundle is there to be checked.
if grep -q skipped "$work/bundle-test.log"; then fail "a bundle check was skipped (see above)"; fi

phase "smoke test of the bundle"
installer/smoke-test.sh "$bundle/showdesk" "$version"

# ---------------------------------------------------------------- 3: the packages
phase "building the .deb (twice, for the upgrade)"
first="$(installer/linux/build-deb.sh --version "$version-1" "$bundle" "$work/deb")"
second="$(installer/linux/build-deb.sh --version "$version-2" "$bundle" "$work/deb")"
ls -l "$first" "$second" >&2
if [ -n "$keep" ]; then
    rm -rf "${keep:?}/showdesk" && cp -a "$bundle" "$keep/showdesk" && cp "$first" "$keep/"
    echo "kept the bundle in $keep/showdesk and the package in $keep/$(basename "$first")" >&2
fi

# ---------------------------------------------------------------- 4: install
phase "installing $first"
if package_present; then
    echo "a showdesk package from an earlier run is installed; purging it first" >&2
    dpkg --purge showdesk >&2
fi
# dpkg leaves the package unconfigured when a dependency (adduser, libgl1, …) is missing;
# apt then installs the dependencies and finishes the configuration.
dpkg -i "$first" >&2 || apt_install -f
[ "$(dpkg-query -W -f='${Version}' showdesk)" = "$version-1" ] || fail "showdesk $version-1 is not installed"
[ "$(command -v showdesk)" = /usr/bin/showdesk ] || fail "showdesk is not on the PATH"
[ "$(showdesk --version)" = "showdesk $version" ] || fail "the installed command prints $(showdesk --version)"
for user in showdesk showdesk-kiosk; do
    getent passwd "$user" >/dev/null || fail "postinst made no user $user"
    [ "$(stat -c %U:%a "/var/lib/$user")" = "$user:700" ] || fail "/var/lib/$user is not $user's, mode 700"
done

phase "systemd-analyze verify and desktop-file-validate on the installed files"
units=(/lib/systemd/system/showdesk-server.service /lib/systemd/system/showdesk-kiosk.service
       /lib/systemd/system/showdesk-retention.service /lib/systemd/system/showdesk-retention.timer)
if ! verify_output="$(systemd-analyze verify "${units[@]}" 2>&1)"; then
    echo "$verify_output" >&2
    fail "systemd-analyze verify refused the units"
fi
if grep -i showdesk <<<"$verify_output"; then fail "systemd-analyze verify complained about the units"; fi
for entry in /usr/share/applications/showdesk-agent.desktop /usr/share/applications/showdesk-tech.desktop \
             /etc/xdg/autostart/showdesk-agent.desktop; do
    desktop-file-validate "$entry" || fail "$entry is not a valid desktop entry"
done

# ---------------------------------------------------------------- 5: use it
phase "smoke test through the installed command"
installer/smoke-test.sh /usr/bin/showdesk "$version"

phase "the server as its unit runs it: user showdesk, data in /var/lib/showdesk"
exec_start="$(sed -n 's/^ExecStart=//p' /lib/systemd/system/showdesk-server.service)"
port="$(free_port)"
# shellcheck disable=SC2086 # the unit's command line, split into words as systemd does
setsid runuser -u showdesk -- env HOME=/var/lib/showdesk $exec_start --port "$port" >"$work/service.log" 2>&1 &
server_group=$!
pids+=("$server_group")
wait_for "the packaged server answering /healthz" 60 healthz "http://127.0.0.1:$port"
runuser -u showdesk -- showdesk server token create --role admin --name ci-upgrade-marker \
    --data /var/lib/showdesk >/dev/null
[ "$(stat -c %U /var/lib/showdesk/showdesk.db)" = showdesk ] || fail "the database is not the showdesk user's"
runuser -u showdesk -- showdesk server retention --dry-run --data /var/lib/showdesk

phase "the kiosk session (xinit and the kiosk alone) as showdesk-kiosk, on Xvfb"
display="$(free_display)"
setsid runuser -u showdesk-kiosk -- env HOME=/var/lib/showdesk-kiosk SHOWDESK_KIOSK_XSERVER=Xvfb \
    SHOWDESK_KIOSK_DISPLAY=":$display" SHOWDESK_URL="http://127.0.0.1:$port" \
    /opt/showdesk/libexec/kiosk-session >"$work/kiosk.log" 2>&1 &
kiosk_session=$!
pids+=("$kiosk_session")
kiosk_x=(env DISPLAY=":$display" XAUTHORITY=/var/lib/showdesk-kiosk/.Xauthority)
wait_for "the kiosk window shown in its own session" 60 "${kiosk_x[@]}" xdotool search --onlyvisible --name '^ShowDesk$'
window_count="$({ "${kiosk_x[@]}" xdotool search --onlyvisible --name '.' 2>/dev/null || true; } | wc -l)"
# The session's X server takes only the kiosk user's cookie.
if env DISPLAY=":$display" XAUTHORITY=/dev/null xdotool search --name '^ShowDesk$' >/dev/null 2>&1; then
    fail "the kiosk's X server lets in a client without its cookie"
fi
[ "$window_count" -eq 1 ] || fail "the kiosk session shows $window_count named windows; only the kiosk's belongs there"
echo "kiosk session: 1 visible window, the kiosk's own" >&2
stop_group "$kiosk_session"

# ---------------------------------------------------------------- 6: upgrade, remove, purge
phase "upgrading to $second"
dpkg -i "$second" >&2
[ "$(dpkg-query -W -f='${Version}' showdesk)" = "$version-2" ] || fail "the upgrade did not install $version-2"
[ "$(showdesk --version)" = "showdesk $version" ] || fail "the command does not run after the upgrade"
runuser -u showdesk -- showdesk server token list --data /var/lib/showdesk | grep -q ci-upgrade-marker \
    || fail "the upgrade lost the server's data"

phase "removing"
stop_group "$server_group"
dpkg -r showdesk >&2
[ ! -e /opt/showdesk ] && [ ! -e /usr/bin/showdesk ] || fail "removal left the program behind"
[ -f /var/lib/showdesk/showdesk.db ] || fail "removal deleted the data directory (only purge may)"
[ -f /etc/xdg/autostart/showdesk-agent.desktop ] || fail "removal deleted the conffile (only purge may)"

phase "purging"
dpkg --purge showdesk >&2
[ ! -e /var/lib/showdesk ] && [ ! -e /var/lib/showdesk-kiosk ] || fail "purge left the data directories"
[ ! -e /etc/xdg/autostart/showdesk-agent.desktop ] || fail "purge left the autostart entry"

phase "done"
echo "package test: passed in $((SECONDS - started)) s ($(du -sh "$bundle" | cut -f1) bundle," \
    "$(du -h "$first" | cut -f1) package)" >&2
