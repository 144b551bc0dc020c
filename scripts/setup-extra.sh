#!/usr/bin/env bash
# Extra, non-Python tools the project uses, installed into the project (never globally).
# Run by `make install`. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Prover: circom 2 compiler (WebAssembly build) and snarkjs, used for constraint counts,
# the snarkjs comparison in `bzk bench prove --compare-snarkjs`, and ceremony tooling.
if command -v npm >/dev/null 2>&1; then
    if [ ! -x node_modules/.bin/snarkjs ] || [ ! -x node_modules/.bin/circom2 ]; then
        npm install --no-save --no-audit --no-fund --prefix . circom2@0.2.23 snarkjs@0.7.6 \
            || echo "setup-extra: npm install of circom2/snarkjs failed; snarkjs comparison disabled" >&2
    fi
else
    echo "setup-extra: npm not found; snarkjs comparison disabled" >&2
fi

# Settlement tests: a real anvil node from npm @foundry-rs/anvil, in its own prefix
# (build/anvil) so this install never prunes the packages above. npm blocks the
# package's postinstall; the platform binary it ships runs as is
# (build/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil).
if command -v npm >/dev/null 2>&1; then
    if [ ! -x build/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ]; then
        mkdir -p build/anvil
        npm install --no-save --no-audit --no-fund --prefix build/anvil @foundry-rs/anvil@1.7.1 \
            || echo "setup-extra: npm install of @foundry-rs/anvil failed; anvil tests will skip" >&2
    fi
else
    echo "setup-extra: npm not found; anvil settlement tests will skip" >&2
fi

# Explorer browser test (tests/node/explorer/test_explorer.py): Debian chromium, driven by npm
# playwright-core in its own prefix (build/playwright; playwright never downloads a browser
# here, it launches /usr/lib/chromium/chromium). apt-get runs only when chromium is missing
# and we are root (CI: a fresh Debian machine); otherwise the browser test skips, saying why.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                chromium fonts-dejavu-core; } \
            || echo "setup-extra: apt-get install chromium failed; the explorer browser test will skip" >&2
    else
        echo "setup-extra: chromium missing and not root; the explorer browser test will skip" >&2
    fi
fi
if command -v npm >/dev/null 2>&1; then
    if [ ! -f build/playwright/node_modules/playwright-core/package.json ]; then
        mkdir -p build/playwright
        npm install --no-save --no-audit --no-fund --prefix build/playwright playwright-core@1.65.1 \
            || echo "setup-extra: npm install of playwright-core failed; the explorer browser test will skip" >&2
    fi
else
    echo "setup-extra: npm not found; the explorer browser test will skip" >&2
fi
