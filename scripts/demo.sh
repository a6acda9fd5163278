#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job end to end on a Debian 12 host, as root: install what redway
# needs, build and install it, start the service, prepare the host (lxcbr0,
# NAT), create and start a container, show it.
#
#   scripts/demo.sh                 a busybox OCI image built locally (works offline)
#   scripts/demo.sh IMAGE [NAME]    any reference, e.g. docker://redroid/redroid:13.0.0_64only-latest
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root" >&2; exit 2; }

IMAGE="${1:-}"
NAME="${2:-demo}"

echo "==> Installing build and runtime dependencies"
scripts/install-deps.sh

echo "==> Building and installing redway"
if [ ! -f build-demo/build.ninja ]; then
  meson setup build-demo --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
    --libexecdir=lib/redway --buildtype=release >/dev/null
fi
ninja -C build-demo >/dev/null
meson install -C build-demo --quiet >/dev/null
ldconfig

echo "==> Starting the service"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reload dbus 2>/dev/null || true
  systemctl restart redwayd
else
  # No systemd (e.g. a container): run the system bus ourselves if needed.
  if [ ! -S /run/dbus/system_bus_socket ]; then
    mkdir -p /run/dbus
    dbus-daemon --system --fork
  else
    dbus-send --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig || true
  fi
  mkdir -p /var/log/redway
  setsid /usr/lib/redway/redwayd --replace >>/var/log/redway/redwayd.log 2>&1 < /dev/null &
  new_pid=$!
  # An older instance may still own the name: wait for the new one to take it.
  for _ in $(seq 300); do
    owner=$(gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
              --method org.freedesktop.DBus.GetConnectionUnixProcessID org.redway.Redway1 2>/dev/null | tr -dc 0-9)
    [ "$owner" = "$new_pid" ] && break
    kill -0 "$new_pid" 2>/dev/null || { echo "redwayd failed to start; see /var/log/redway/redwayd.log" >&2; exit 1; }
    sleep 0.1
  done
fi
gdbus wait --system --timeout 30 org.redway.Redway1

echo "==> Preparing the host (binder check, lxcbr0 bridge, NAT, IPv4 forwarding)"
redway prepare-lxc || echo "(some optional checks failed; see above)"

if [ -z "$IMAGE" ]; then
  LAYOUT=/var/lib/redway-demo/busybox
  echo "==> Building a busybox OCI image in $LAYOUT"
  rm -rf "$LAYOUT"
  mkdir -p "$(dirname "$LAYOUT")"
  /usr/bin/python3 tests/make-oci-layout.py "$LAYOUT" --busybox /bin/busybox \
    --extra-layer "/init.sh=trap 'exit 0' TERM; while true; do sleep 1 & wait \$!; done" \
    --entrypoint /bin/sh --cmd /init.sh >/dev/null
  IMAGE="oci:$LAYOUT:latest"
fi

if redway status "$NAME" >/dev/null 2>&1; then
  echo "==> Removing the previous “$NAME” container"
  redway remove --force "$NAME"
fi

echo "==> Creating and starting “$NAME” from $IMAGE"
redway init "$NAME" "$IMAGE"
redway start "$NAME"

echo "==> The container"
redway status "$NAME"
echo
redway list
echo
echo "==> Inside it"
redway exec "$NAME" -- uname -a || true
