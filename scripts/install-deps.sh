#!/usr/bin/env bash
# Installs the Debian packages the hotline and its tests need, only those missing.
# Used by 'make run', 'make test' and .ci/run. Needs root (or nothing to install).
set -euo pipefail

need=()
command -v sipp >/dev/null 2>&1       || need+=(sip-tester)
command -v mmdebstrap >/dev/null 2>&1 || command -v asterisk >/dev/null 2>&1 || need+=(mmdebstrap)
command -v espeak-ng >/dev/null 2>&1  || need+=(espeak-ng)
command -v sox >/dev/null 2>&1        || need+=(sox)
command -v make >/dev/null 2>&1       || need+=(make)
# The pages' tests drive Debian's chromium through Playwright (it may not download browsers).
[ -x /usr/bin/chromium ]               || need+=(chromium)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} — run as root, or: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
