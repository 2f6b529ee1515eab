#!/usr/bin/env bash
# Unpacks Debian's musl package (the C library and its loader, ~700 kB) into the
# matrix tool cache for test/libc.test.ts, without installing it system-wide.
# Needs apt-get and dpkg (Debian or Ubuntu, x86_64); run `apt-get update` first
# on a fresh machine.
set -euo pipefail
cache="${INSTALL_BEACON_MATRIX_CACHE:-$HOME/.cache/install-beacon-matrix}"
dest="$cache/musl-deb"
[ -e "$dest/lib/ld-musl-x86_64.so.1" ] && { echo "musl already in $dest"; exit 0; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download musl >/dev/null)
dpkg -x "$work"/musl_*.deb "$work/root"
rm -rf "$dest" && mkdir -p "$cache"
mv "$work/root" "$dest"
echo "musl $(dpkg-deb -f "$work"/musl_*.deb Version) unpacked into $dest"
