#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing: a real Prometheus (with
# promtool), a real Alertmanager, aiosmtpd as a loopback SMTP server for the email tests (run by
# Debian's /usr/bin/python3, not a pyenv one), and Chromium for the status page test.
# Idempotent and quick when everything is there already.
set -euo pipefail

packages=(prometheus prometheus-alertmanager python3-aiosmtpd chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: ${packages[*]} already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
# --no-install-recommends keeps node-exporter and friends out; the tests need only these.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in prometheus promtool prometheus-alertmanager chromium; do
  command -v "$bin" >/dev/null || { echo "install-deps: $bin missing after install" >&2; exit 1; }
done
/usr/bin/python3 -c "import aiosmtpd" || { echo "install-deps: python3 aiosmtpd missing after install" >&2; exit 1; }
