#!/usr/bin/env bash
# Installs the system libraries the engine links against (OpenBLAS), on Debian/Ubuntu.
# Idempotent: does nothing when they are present.
set -euo pipefail
if ! pkg-config --exists openblas 2>/dev/null; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
fi
