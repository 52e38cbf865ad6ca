#!/bin/sh
# Lays out the vault-sync-operator image's root filesystem in ROOTFS from
# Debian packages, the Node.js binary and the controller bundle. The one
# recipe behind both builds: tools/image (no container engine, then an OCI
# image of its own making) and the Dockerfile (its rootfs stage), so the two
# produce the same files.
#
#   rootfs.sh ROOTFS DEBS_DIR NODE_BINARY APP_DIR
#
# DEBS_DIR holds the .deb files of: libc6, libgcc-s1, libstdc++6, gcc-12-base
# (what the node binary links), dash (/bin/sh for the entrypoint) and
# ca-certificates (only its certificate files are kept, as one bundle).
# APP_DIR holds controller.mjs (and its chunks controller-*.mjs), entrypoint.sh and LICENSE.
#
# The packages are unpacked, not installed: no maintainer scripts run, and
# there is no dpkg, apt, npm or compiler in the result. What Debian ships
# beside the libraries (docs, locales, gconv modules, tools) is removed.
set -eu
umask 022
rootfs=$1 debs=$2 node=$3 app=$4

[ ! -e "$rootfs" ] || { echo "rootfs.sh: $rootfs exists; give a new folder" >&2; exit 2; }
mkdir -p "$rootfs"
for deb in "$debs"/*.deb; do
  dpkg-deb -x "$deb" "$rootfs"
done

# Certificates: the bundle update-ca-certificates would write, in file-name order.
mkdir -p "$rootfs/etc/ssl/certs"
find "$rootfs/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | while read -r crt; do
  cat "$crt"
done > "$rootfs/etc/ssl/certs/ca-certificates.crt"

# Everything but the shared libraries, the dynamic loader and dash.
rm -rf "$rootfs/usr/share" "$rootfs/usr/lib/x86_64-linux-gnu/gconv" "$rootfs/usr/libexec" \
  "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/sbin" "$rootfs/etc/ld.so.conf.d" "$rootfs/etc/default" \
  "$rootfs/var" "$rootfs/usr/lib/x86_64-linux-gnu/audit"
find "$rootfs/bin" -mindepth 1 ! -name dash -exec rm -rf {} +
ln -s dash "$rootfs/bin/sh"

# Node.js and the application.
install -D -m 0755 "$node" "$rootfs/usr/local/bin/node"
install -d -m 0755 "$rootfs/app"
for bundle in "$app"/controller*.mjs; do   # the bundle and its lazily loaded chunks
  install -m 0444 "$bundle" "$rootfs/app/"
done
install -m 0555 "$app/entrypoint.sh" "$rootfs/app/entrypoint.sh"
install -m 0444 "$app/LICENSE" "$rootfs/app/LICENSE"

# A numeric non-root user (65532, as in distroless images) with no shell or home.
install -d -m 0755 "$rootfs/etc"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
# Mount points: /tmp (an emptyDir in the chart), /proc, /sys, /dev for the runtime.
install -d -m 1777 "$rootfs/tmp"
install -d -m 0755 "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/home/nonroot" "$rootfs/root"
