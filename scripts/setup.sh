#!/usr/bin/env bash
# Installs every build and test dependency of Strata from Debian 12 packages.
# Idempotent: packages already present are left alone, and apt is not touched at all
# when nothing is missing. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git python3 python3-venv
  libdnnl-dev libhdf5-dev hdf5-tools libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libboost-dev libboost-program-options-dev
  libboost-filesystem-dev googletest libgtest-dev libgmock-dev libbenchmark-dev
  binutils python3-snappy python3-numpy python3-h5py clang libclang-rt-14-dev
  libzip-dev
  openmpi-bin libopenmpi-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
