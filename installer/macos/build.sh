#!/usr/bin/env bash
# Build ShowDesk.app and a .pkg on macOS. UNTESTED HERE: the project's machines run Linux;
# installer/ci/desktop-bundles.yml runs these steps on a hosted macOS runner.
#
#   installer/macos/build.sh [SIGNING_IDENTITY]
#
# Needs Python 3.11 (python.org or Homebrew). With a "Developer ID Application" identity the app
# is signed with the hardened runtime; notarize the .pkg with `xcrun notarytool submit --wait`
# before handing it out. A stable signature matters: macOS keys the Screen Recording permission
# to the app's identity, and a differently signed build asks for it again.
set -euo pipefail
cd "$(dirname "$0")/../.."
identity="${1:-}"
python3.11 -m venv .venv
.venv/bin/python -m pip install --upgrade pip
.venv/bin/python -m pip install -e '.[dev]' 'pyinstaller>=6.10'
.venv/bin/python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller installer/showdesk.spec
version="$(dist/showdesk/showdesk --version | awk '{print $2}')"
if [ -n "$identity" ]; then
    codesign --force --deep --options runtime --timestamp --sign "$identity" dist/ShowDesk.app
fi
root="$(mktemp -d)"
mkdir -p "$root/Applications" "$root/Library/LaunchAgents"
cp -R dist/ShowDesk.app "$root/Applications/"
install -m 0644 installer/macos/org.showdesk.agent.plist "$root/Library/LaunchAgents/"
pkgbuild --root "$root" --identifier org.showdesk.pkg --version "$version" \
    --install-location / "dist/ShowDesk-$version.pkg"
echo "built dist/ShowDesk.app and dist/ShowDesk-$version.pkg"
