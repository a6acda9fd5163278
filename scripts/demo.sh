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

# Every failing step says which one it was (set -e alone exits silently).
trap 'echo "demo.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# PID of the process owning org.redway.Redway1 on the system bus, or nothing.
name_owner_pid() {
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixProcessID s org.redway.Redway1 2>/dev/null | awk '$1 == "u" { print $2 }' || true
}

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
  if dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.ReloadConfig >/dev/null 2>&1; then
    :   # a bus is running and has now read redway's bus policy
  else
    # None answers (never started, or left over from one that died).
    rm -f /run/dbus/pid /run/dbus/system_bus_socket
    mkdir -p /run/dbus
    dbus-daemon --system --fork
  fi
  mkdir -p /var/log/redway
  # G_SLICE as the unit sets it (data/redwayd.service.in).
  G_SLICE=always-malloc setsid /usr/lib/redway/redwayd --replace >>/var/log/redway/redwayd.log 2>&1 < /dev/null &
  new_pid=$!
  # An older instance may still own the name: wait until the new one has it.
  # (A failing lookup is normal before anyone owns the name: never let it
  # end the script under `set -e`.)
  owned=0
  for _ in $(seq 300); do
    [ "$(name_owner_pid)" = "$new_pid" ] && { owned=1; break; }
    kill -0 "$new_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$owned" != 1 ]; then
    echo "demo.sh: redwayd did not take the name org.redway.Redway1; the end of /var/log/redway/redwayd.log:" >&2
    tail -n 20 /var/log/redway/redwayd.log >&2 || true
    exit 1
  fi
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
