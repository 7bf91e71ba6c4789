#!/usr/bin/env bash
# Installs Mesa's software GPU drivers (lavapipe for Vulkan, llvmpipe for GL/EGL)
# from Debian bookworm-backports (Mesa 25), which has shaderFloat16, timestamp
# queries and subgroups; bookworm's own Mesa 22 lavapipe lacks shaderFloat16.
# Idempotent: does nothing when a Mesa >= 25 lavapipe is already installed.
set -euo pipefail

have_mesa25() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25 && ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1
}

if have_mesa25; then
  echo "install-drivers: Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports \
  mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libglx-mesa0 libgbm1 >/dev/null
echo "install-drivers: installed Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
