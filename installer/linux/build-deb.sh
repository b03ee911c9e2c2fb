#!/usr/bin/env bash
# Build the .deb from a bundle made by installer/build-bundle.sh (dpkg-deb, no debhelper).
#
#   installer/linux/build-deb.sh [--version VERSION] BUNDLE_DIR OUT_DIR
#
# BUNDLE_DIR is the one-folder bundle (holding the `showdesk` program); the package installs
# it under /opt/showdesk with /usr/bin/showdesk, the desktop and autostart entries, the
# systemd units and the kiosk session. VERSION defaults to the one the bundle prints.
# Prints the path of the package it wrote. Compressed with zstd (dpkg 1.21.18 or later, as in
# Debian 12 and Ubuntu 22.04): seconds instead of minutes; SHOWDESK_DEB_COMPRESSION=xz makes
# a smaller package for older dpkg.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

version=""
if [ "${1:-}" = "--version" ]; then version="$2"; shift 2; fi
if [ "$#" -ne 2 ]; then
    echo "usage: $0 [--version VERSION] BUNDLE_DIR OUT_DIR" >&2
    exit 2
fi
bundle="$(cd "$1" && pwd)"
mkdir -p "$2"
out="$(cd "$2" && pwd)"
if [ ! -x "$bundle/showdesk" ]; then
    echo "build-deb: $bundle holds no showdesk program; build it with installer/build-bundle.sh" >&2
    exit 1
fi
if [ -z "$version" ]; then
    version="$("$bundle/showdesk" --version | awk '{print $2}')-1"
fi
if ! [[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]]; then
    echo "build-deb: $version is not a Debian version" >&2
    exit 2
fi
arch="$(dpkg --print-architecture)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
install -d "$root/opt" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/share/applications" \
    "$root/etc/xdg/autostart" "$root/usr/share/icons/hicolor/scalable/apps" \
    "$root/usr/share/doc/showdesk/examples" "$root/DEBIAN"

cp -a "$bundle" "$root/opt/showdesk"
install -d "$root/opt/showdesk/libexec"
install -m 0755 "$here/kiosk/kiosk-session" "$here/kiosk/kiosk-xsession" "$root/opt/showdesk/libexec/"
ln -s /opt/showdesk/showdesk "$root/usr/bin/showdesk"
install -m 0644 "$here"/systemd/*.service "$here"/systemd/*.timer "$root/lib/systemd/system/"
install -m 0644 "$here/desktop/showdesk-agent.desktop" "$here/desktop/showdesk-tech.desktop" \
    "$root/usr/share/applications/"
install -m 0644 "$here/desktop/showdesk-agent-autostart.desktop" "$root/etc/xdg/autostart/showdesk-agent.desktop"
install -m 0644 "$repo/resources/agent/showdesk-agent.svg" "$root/usr/share/icons/hicolor/scalable/apps/"
install -m 0644 "$repo/docs/deployment.md" "$repo/docs/configuration.md" "$repo/docs/server.md" \
    "$root/usr/share/doc/showdesk/"
install -m 0644 "$here"/examples/* "$root/usr/share/doc/showdesk/examples/"
cat > "$root/usr/share/doc/showdesk/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: showdesk

Files: *
License: MIT
Comment: The bundle under /opt/showdesk also holds Python, Qt (LGPL-3) and the Python
 packages ShowDesk uses, each under its own licence; see their metadata in
 /opt/showdesk/_internal.
COPYRIGHT

size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    "$here/debian/control.in" > "$root/DEBIAN/control"
install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$root/DEBIAN/"
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) > "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum \
    | sed 's|  \./|  |') > "$root/DEBIAN/md5sums"

package="$out/showdesk_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${SHOWDESK_DEB_COMPRESSION:-zstd}" --build "$root" "$package" >/dev/null
echo "$package"
