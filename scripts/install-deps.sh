#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what redway needs to build, run and test on Debian 12 (idempotent).
set -euo pipefail

PACKAGES=(
  build-essential pkg-config meson ninja-build gettext
  libglib2.0-dev libglib2.0-bin libjson-glib-dev libsoup-3.0-dev libarchive-dev libzstd-dev
  lxc-dev liblxc1 liblxc-common libpolkit-gobject-1-dev polkitd
  libkmod-dev libnftables-dev libssl-dev dnsmasq-base
  gobject-introspection libgirepository1.0-dev python3-gi gir1.2-glib-2.0
  dbus-daemon dbus-bin libdbus-1-dev systemd iproute2 util-linux busybox-static
  # meson option docs: gi-docgen for Redway-1.0, docutils for the D-Bus reference
  gi-docgen python3-docutils
)
if [ "${1:-}" = "--test" ]; then
  # clang + libFuzzer (libclang_rt.fuzzer) for the fuzz stage of run-tests.sh
  PACKAGES+=(docker-registry clang libclang-rt-14-dev)
fi
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(docker-registry skopeo umoci)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
