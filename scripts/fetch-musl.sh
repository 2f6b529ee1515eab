#!/usr/bin/env bash
# Fills the matrix tool cache with the musl pieces the libc tests use; nothing
# is installed system-wide (musl beside glibc is itself a case under test).
#   musl-deb/        Debian's musl package (the C library and its loader, ~700 kB):
#                    test/libc.test.ts, and the loader of test/libc-musl.test.ts's root
#   musl-root-libs/  what Bun's musl build needs besides musl, for that musl-only root:
#                    libstdc++.so.6 and libgcc_s.so.1 from Debian's libstdc++6 and
#                    libgcc-s1 (built against glibc: Debian has no musl build of them);
#                    ld-linux-x86-64.so.2 from scripts/musl-glibc-shim.c (the few glibc-only
#                    symbols those two ask for, as Alpine's gcompat does); usr/bin/env from
#                    scripts/musl-env.c (a bin's `#!/usr/bin/env node`), both linked against musl
#   @oven+bun-linux-x64-musl@<version>/  Bun's musl build from the npm registry, laid out
#                    as the matrix lays out its tools (test/matrix/tools.ts), with .complete
# Each piece is fetched only when missing; musl.complete is written once all are there.
# Needs apt-get, dpkg, gcc and npm (Debian or Ubuntu, x86_64); run `apt-get update`
# first on a fresh machine. BUN_MUSL_VERSION picks Bun's version (default: latest).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${INSTALL_BEACON_MATRIX_CACHE:-$HOME/.cache/install-beacon-matrix}"
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

dest="$cache/musl-deb"
if [ -e "$dest/lib/ld-musl-x86_64.so.1" ]; then
  echo "musl already in $dest"
else
  (cd "$work" && apt-get download musl >/dev/null)
  dpkg -x "$work"/musl_*.deb "$work/musl"
  rm -rf "$dest"
  mv "$work/musl" "$dest"
  echo "musl $(dpkg-deb -f "$work"/musl_*.deb Version) unpacked into $dest"
fi

libs="$cache/musl-root-libs"
if [ -e "$libs/.complete" ]; then
  echo "musl root libraries already in $libs"
else
  (cd "$work" && apt-get download libstdc++6 libgcc-s1 >/dev/null)
  for deb in "$work"/libstdc++6_*.deb "$work"/libgcc-s1_*.deb; do dpkg -x "$deb" "$work/gcc"; done
  part="$libs.partial"
  rm -rf "$part" && mkdir -p "$part/usr/lib/x86_64-linux-musl" "$part/usr/bin"
  cp -L "$work/gcc/usr/lib/x86_64-linux-gnu/libstdc++.so.6" "$work/gcc/lib/x86_64-linux-gnu/libgcc_s.so.1" "$part/usr/lib/x86_64-linux-musl/"
  # -nostdlib: nothing of the host's C library is linked in; musl resolves the calls when it loads these.
  gcc -O2 -fPIC -shared -nostdlib -fno-stack-protector -Wl,-soname,ld-linux-x86-64.so.2 \
    -o "$part/usr/lib/x86_64-linux-musl/ld-linux-x86-64.so.2" "$here/musl-glibc-shim.c"
  gcc -O2 -fPIE -pie -nostdlib -fno-stack-protector -Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1 -Wl,-z,now \
    -o "$part/usr/bin/env" "$here/musl-env.c" -L"$dest/lib/x86_64-linux-musl" -l:libc.so
  for deb in "$work"/libstdc++6_*.deb "$work"/libgcc-s1_*.deb; do echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"; done >"$part/.complete"
  rm -rf "$libs" && mv "$part" "$libs"
  echo "musl root libraries ($(tr '\n' ' ' <"$libs/.complete")) into $libs"
fi

if compgen -G "$cache/@oven+bun-linux-x64-musl@*/.complete" >/dev/null; then
  echo "bun (musl) already in $(dirname "$(compgen -G "$cache/@oven+bun-linux-x64-musl@*/.complete" | tail -1)")"
else
  version="${BUN_MUSL_VERSION:-$(cd "$cache" && npm view @oven/bun-linux-x64-musl version)}"
  dir="$cache/@oven+bun-linux-x64-musl@$version"
  # npm pack, not npm install: the package says libc "musl", and this host is glibc.
  tgz="$(cd "$work" && npm pack "@oven/bun-linux-x64-musl@$version" --silent)"
  rm -rf "$dir.partial" && mkdir -p "$dir.partial/node_modules/@oven/bun-linux-x64-musl"
  tar -xzf "$work/$tgz" -C "$dir.partial/node_modules/@oven/bun-linux-x64-musl" --strip-components=1
  chmod +x "$dir.partial/node_modules/@oven/bun-linux-x64-musl/bin/bun"
  date -u +%FT%TZ >"$dir.partial/.complete"
  rm -rf "$dir" && mv "$dir.partial" "$dir"
  echo "bun $version (musl) into $dir"
fi

touch "$cache/musl.complete"
