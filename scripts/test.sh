#!/usr/bin/env bash
# The whole vipd test suite, every tier, with its own set-up:
#   unit (pure), netns (real kernel networking on this host: VRRP, ARP,
#   keepalived interop). Prints one closing line: "N passed, N failed, N skipped".
# Usage (as root): bash scripts/test.sh [vitest filters...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

report=$(mktemp /tmp/vipd-test-XXXXXX.json)
trap 'rm -f "$report"' EXIT
set +e
NO_COLOR=1 npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  // A test file that failed to load has no tests but is a failure.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${skipped} skipped`);
' "$report" || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
exit $rc
