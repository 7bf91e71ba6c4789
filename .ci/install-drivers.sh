#!/usr/bin/env bash
# Installs Mesa's software GPU drivers (lavapipe for Vulkan, llvmpipe for GL/EGL)
# from Debian bookworm-backports (Mesa 25), which has shaderFloat16, timestamp
# queries and subgroups; bookworm's own Mesa 22 lavapipe lacks shaderFloat16.
# The same package has RADV, whose null device builds the GPU-only pipelines
# with a GPU's compiler (tests/it/radv.rs).
# Also SPIRV-Tools (spirv-val), which checks the SPIR-V naga writes for the
# configurations only a GPU runs (tests/it/spirv.rs).
# Idempotent: does nothing when a Mesa >= 25 lavapipe and spirv-val are there.
set -euo pipefail

have_mesa25() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25 && ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1
}

have_spirv_val() {
  command -v spirv-val >/dev/null 2>&1
}

if have_mesa25 && have_spirv_val; then
  echo "install-drivers: Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) and spirv-val already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
$SUDO apt-get update -qq
if ! have_mesa25; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports \
    mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libglx-mesa0 libgbm1 >/dev/null
  echo "install-drivers: installed Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
fi
if ! have_spirv_val; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq spirv-tools >/dev/null
  echo "install-drivers: installed $(spirv-val --version | head -1)"
fi
