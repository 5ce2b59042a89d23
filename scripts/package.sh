#!/usr/bin/env bash
# Builds pkg/vipd_VERSION_ARCH.deb with Debian's own tools (dpkg-deb, dpkg-architecture):
#   /usr/lib/vipd/        compiled JavaScript (dist/), bin/vipd.js, package.json,
#                         production node_modules, the native addon built for this architecture
#   /usr/bin/vipd         -> /usr/lib/vipd/bin/vipd.js
#   /lib/systemd/system/vipd.service
#   /etc/vipd/vipd.yaml   the sample, a conffile (an upgrade keeps the operator's edits)
#   /usr/share/man/man8/vipd.8.gz, /usr/share/doc/vipd/
# Usage: npm run package   (VIPD_DEB_VERSION overrides the version, e.g. for an upgrade test)
# The QEMU lab (src/lab, dist/lab) is test and demo tooling and is not shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

[ -x node_modules/.bin/tsc ] || { echo "vipd package: run 'npm ci' first (the TypeScript compiler is a dev dependency)" >&2; exit 2; }

version=${VIPD_DEB_VERSION:-$(node -p 'require("./package.json").version')}
arch=$(dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null || dpkg --print-architecture)
stage=$(mktemp -d /tmp/vipd-deb-XXXXXX)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
lib=$stage/usr/lib/vipd

install -d "$lib" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/etc/vipd" \
  "$stage/usr/share/man/man8" "$stage/usr/share/doc/vipd" "$stage/DEBIAN"

# The application: the JavaScript compiled afresh from src/ (the work tree's dist/ is not
# touched), without the QEMU lab; the launcher; the manifest.
node_modules/.bin/tsc -p tsconfig.json --outDir "$lib/dist"
rm -rf "$lib/dist/lab"
find "$lib/dist" -name "*.map" -delete # they point at src/, which is not shipped
install -D -m 0755 bin/vipd.js "$lib/bin/vipd.js"
cp package.json package-lock.json binding.gyp "$lib/"
cp -r native "$lib/native"

# Production dependencies, compiled here for this architecture (raw-socket builds its addon),
# then our own addon; build intermediates are dropped, the .node files stripped.
log=$stage.build.log
(cd "$lib" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
  && npm rebuild --foreground-scripts --loglevel=error && npm run -s install) >"$log" 2>&1 \
  || { cat "$log" >&2; echo "vipd package: building the production node_modules failed" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
find "$lib" -name '*.node' -exec strip --strip-unneeded {} +
for b in "$lib/build" "$lib"/node_modules/*/build; do
  [ -f "$b/config.gypi" ] || continue # node-gyp's, not a package's own build/ folder
  find "$b" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$b/Release" -mindepth 1 -maxdepth 1 ! -name '*.node' -exec rm -rf {} +
done
# Sources and header-only build dependencies (the addons are compiled) stay behind.
rm -rf "$lib/native" "$lib/binding.gyp" "$lib/node_modules/.package-lock.json" "$lib/node_modules/nan" "$lib/node_modules/node-addon-api"
# The daemon's smoke test before anything is packed: the CLI loads and knows its version.
[ "$(node "$lib/bin/vipd.js" --version)" = "$(node -p 'require("./package.json").version')" ]

ln -s ../lib/vipd/bin/vipd.js "$stage/usr/bin/vipd"
install -m 0644 systemd/vipd.service "$stage/lib/systemd/system/vipd.service"
install -m 0644 etc/vipd/vipd.yaml "$stage/etc/vipd/vipd.yaml"
gzip -9n < man/vipd.8 > "$stage/usr/share/man/man8/vipd.8.gz"
install -m 0644 README.md "$stage/usr/share/doc/vipd/README.md"
printf 'vipd (%s) unstable; urgency=medium\n\n  * Built from git %s.\n\n -- vipd developers <vipd@localhost>  %s\n' \
  "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n > "$stage/usr/share/doc/vipd/changelog.gz"
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: vipd\n\nFiles: *\nLicense: MIT\n' \
  > "$stage/usr/share/doc/vipd/copyright"

# Maintainer scripts and metadata.
install -m 0755 debian/postinst debian/prerm debian/postrm "$stage/DEBIAN/"
echo /etc/vipd/vipd.yaml > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" debian/control > "$stage/DEBIAN/control"

mkdir -p "$root/pkg"
out=$root/pkg/vipd_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
