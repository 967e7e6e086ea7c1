#!/bin/bash
# sparkhub bootstrap action for profile @@PROFILE@@: installs the profile's
# Python packages on every node. pip leaves packages that are already installed
# at the requested version alone, so a rerun changes nothing. Any failure fails
# the bootstrap action (and so the cluster start) with the reason in the log.
set -euo pipefail

PACKAGES=(@@PACKAGES@@)

log() { printf 'sparkhub bootstrap: %s\n' "$*" >&2; }
trap 'log "installing Python packages failed (exit $?); see the pip output above"' ERR

python=$(command -v python3)
log "installing ${#PACKAGES[@]} package(s) with ${python}: ${PACKAGES[*]}"
sudo "$python" -m pip install --no-input --disable-pip-version-check "${PACKAGES[@]}"
log "Python packages installed"
