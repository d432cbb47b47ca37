#!/usr/bin/env bash
# Makes sure what the test suite uses for real is there: Debian's espeak-ng and sox, Debian's Chromium
# (the browser tests drive /usr/bin/chromium through Playwright; Playwright never downloads a browser), and
# PostgreSQL on 127.0.0.1:5432 (database `test`).
# On the development and CI machines PostgreSQL is installed from Debian and normally already running;
# if it has stopped, start it. Fails loudly rather than letting PostgreSQL tests be skipped.
set -euo pipefail

# Tools from Debian the tests use for real: espeak-ng and sox (speech for simulated recordings), chromium
# (the browser tests) with chromium-driver, and CJK fonts so the pages' Chinese renders in screenshots.
missing=()
for tool in espeak-ng sox; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
[ -d /usr/share/fonts/truetype/wqy ] || [ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pg_url_host=127.0.0.1
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$pg_url_host" -p 5432; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do
    pg_isready -q -h "$pg_url_host" -p 5432 && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not reachable at $pg_url_host:5432 and could not be started." >&2
echo "Install it (apt-get install postgresql) or point WAIHU_TEST_PG_URL at a server." >&2
exit 1
