#!/usr/bin/env bash
# Render the demo's HTML failover report to docs/images/failover-report.png (the screenshot in the docs).
#
#   scripts/screenshot.sh
#
# Runs the demo (scripts/demo.sh: a real failover against the simulator) with its reports in
# .work/screenshot/reports, then opens the HTML report in headless Chromium and saves a PNG.
# Needs Debian's `chromium` package; when it is missing the script installs it with apt-get
# (root) or says how to. The report is self-contained, so Chromium fetches nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "chromium is missing: installing Debian's chromium package with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
    else
        echo "chromium is missing: install it with 'sudo apt-get install chromium fonts-dejavu-core', then rerun" >&2
        exit 1
    fi
fi

work=.work/screenshot
rm -rf "$work"
mkdir -p "$work/reports" docs/images
DEMO_REPORT_DIR="$PWD/$work/reports" bash scripts/demo.sh >"$work/demo.log" 2>&1 || {
    echo "the demo failed; its output is in $work/demo.log" >&2
    exit 1
}
report=$(ls "$work"/reports/failover-*.html)

# --no-sandbox: Chromium refuses to run as root with its sandbox (containers, CI machines).
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="${SCREENSHOT_SIZE:-1400,900}" --screenshot="$PWD/docs/images/failover-report.png" \
    "file://$PWD/$report" >"$work/chromium.log" 2>&1
echo "rendered $report to docs/images/failover-report.png"
