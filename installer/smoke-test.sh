#!/usr/bin/env bash
# Smoke test of a built or installed ShowDesk program, as a person would first try it:
#   1. it prints its version;
#   2. it captures the screen of a real X server (Xvfb) into a report bundle;
#   3. it starts the built-in server, which answers /healthz;
#   4. the bundle from step 2 is submitted to that server and becomes a ticket;
#   5. the kiosk starts on the X server and shows its window (when the program has a kiosk).
#
#   installer/smoke-test.sh SHOWDESK_PROGRAM [EXPECTED_VERSION]
#
# Needs Xvfb, xdotool and python3 (for the HTTP checks). Everything it writes goes to a
# temporary directory (HOME and the XDG directories too), removed at the end.
set -euo pipefail
program="$1"
expected="${2:-}"
deadline_seconds=60

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
    XDG_CACHE_HOME="$work/cache" XDG_STATE_HOME="$work/state" XDG_RUNTIME_DIR="$work/runtime" \
    SHOWDESK_MACHINE_CONFIG="$work/machine.toml" SHOWDESK_CONFIG="$work/user.toml"
unset SHOWDESK_URL SHOWDESK_TOKEN SHOWDESK_BACKEND QT_QPA_PLATFORM WAYLAND_DISPLAY
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
step() { echo "smoke: $*" >&2; }
# Poll a command until it succeeds, at most $deadline_seconds.
wait_for() {
    local what="$1"; shift
    local end=$((SECONDS + deadline_seconds))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || fail "$what did not happen within ${deadline_seconds}s"
        sleep 0.1
    done
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
healthz() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2)' "$1"; }

step "1/5 version"
version_line="$("$program" --version)"
case "$version_line" in "showdesk "*) ;; *) fail "--version printed '$version_line'" ;; esac
if [ -n "$expected" ] && [ "$version_line" != "showdesk $expected" ]; then
    fail "--version printed '$version_line', expected 'showdesk $expected'"
fi

step "2/5 capture under Xvfb"
display=90
while [ -e "/tmp/.X${display}-lock" ] || [ -e "/tmp/.X11-unix/X${display}" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
wait_for "Xvfb :$display" test -e "/tmp/.X11-unix/X$display"
export DISPLAY=":$display"
"$program" capture -o "$work/report.showdesk" --description "smoke test" --category Smoke \
    || fail "capture exited with $?"
[ -s "$work/report.showdesk" ] || fail "capture wrote no bundle"

step "3/5 server and /healthz"
port="$(free_port)"
url="http://127.0.0.1:$port"
"$program" server serve --host 127.0.0.1 --port "$port" --data "$work/server" --no-handover \
    >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "the server answering $url/healthz" healthz "$url"

step "4/5 submit the captured bundle"
token="$("$program" server token create --role submitter --name smoke --data "$work/server")"
SHOWDESK_URL="$url" SHOWDESK_TOKEN="$token" "$program" submit "$work/report.showdesk" --wait 30 --json \
    >"$work/submit.json" || fail "submit exited with $? ($(cat "$work/submit.json"))"
grep -q '"SD-1001"' "$work/submit.json" || fail "no ticket number in $(cat "$work/submit.json")"

step "5/5 kiosk window"
if "$program" kiosk --help >/dev/null 2>&1; then
    SHOWDESK_URL="$url" SHOWDESK_TOKEN="$token" "$program" kiosk --windowed >"$work/kiosk.log" 2>&1 &
    pids+=($!)
    wait_for "the kiosk window shown" xdotool search --onlyvisible --name '^ShowDesk$'
else
    step "   (this build has no kiosk yet)"
fi
step "passed: $version_line"
