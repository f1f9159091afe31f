#!/usr/bin/env bash
# Installs what crvq needs from Debian's archive (skips what is there already).
set -euo pipefail
# clang, its libFuzzer/sanitizer runtimes and its OpenMP: the fuzz harnesses (tests/fuzz)
pkgs=(cmake gcc make libopenblas-dev liblapacke-dev libcjson-dev python3 python3-sentencepiece python3-numpy curl
      clang libclang-rt-14-dev libomp-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
