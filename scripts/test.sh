#!/usr/bin/env bash
# The test command: installs what the suite needs, then runs all of it.
# Ends with cargo test's own summary lines (CI reads them).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s ====\n' "$*"; }
die() { printf '\nscripts/test.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# Debian packages the black-box tests drive: sipp (package sip-tester) registers phones.
# baresip phones, python3-aiosmtpd mail, chromium browsers (see ../shared/TESTING.md),
# postgresql the shared store of a cluster, kamailio its SIP front.
APT_PACKAGES=(sip-tester baresip python3-aiosmtpd chromium firefox-esr postgresql kamailio)

step "Rust toolchain (rust-toolchain.toml)"
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
[[ -n "$channel" ]] || die "no channel in rust-toolchain.toml"
if ! rustup toolchain list | grep -q "^$channel-"; then
    rustup toolchain install "$channel" --profile minimal || die "rustup toolchain install $channel"
fi
rustup target add wasm32-wasip2 || die "rustup target add wasm32-wasip2"
rustup component add clippy rustfmt || die "rustup component add clippy rustfmt"
rustc --version
cargo --version

if ((${#APT_PACKAGES[@]})); then
    step "Debian packages: ${APT_PACKAGES[*]}"
    missing=()
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    if ((${#missing[@]})); then
        sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update || die "apt-get update"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
            || die "apt-get install ${missing[*]}"
    else
        echo "all installed"
    fi
fi

# CI machines keep one build directory across runs (outside the clone) to reuse builds.
if [[ -n "${CI:-}" && -z "${CARGO_TARGET_DIR:-}" ]]; then
    export CARGO_TARGET_DIR=/var/tmp/centralita-target
fi
echo "target directory: ${CARGO_TARGET_DIR:-target}"

# SIP.js, a browser SIP library we did not write, for the web phone interop test
# (tests/webphone.rs): the npm package's ES modules load in Chromium as they are.
SIPJS_VERSION=0.21.2
SIPJS_SHA256=abbf374bccf50fdd0f659e24dd70a83a0bad09553bd16fa4b6c94021053f66cb
peers="${CARGO_TARGET_DIR:-target}/browser-peers"
if [[ ! -f "$peers/sip.js-$SIPJS_VERSION/lib/index.js" ]]; then
    step "SIP.js $SIPJS_VERSION from the npm registry"
    mkdir -p "$peers"
    tarball="$peers/sip.js-$SIPJS_VERSION.tgz"
    curl -sSfL -o "$tarball" "https://registry.npmjs.org/sip.js/-/sip.js-$SIPJS_VERSION.tgz" \
        || die "download SIP.js $SIPJS_VERSION from registry.npmjs.org"
    echo "$SIPJS_SHA256  $tarball" | sha256sum -c --quiet || die "SIP.js tarball checksum mismatch"
    rm -rf "$peers/sip.js-$SIPJS_VERSION" && mkdir "$peers/sip.js-$SIPJS_VERSION"
    tar xzf "$tarball" -C "$peers/sip.js-$SIPJS_VERSION" --strip-components=1 || die "unpack SIP.js"
    rm "$tarball"
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "PostgreSQL for the store tests (scripts/postgres.sh)"
pg_dir=$(mktemp -d /tmp/centralita-test-pg.XXXXXX)
trap 'scripts/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir" "$pg_dir.initdb.log"' EXIT
CENTRALITA_TEST_POSTGRES=$(scripts/postgres.sh start "$pg_dir") || die "start a PostgreSQL server"
export CENTRALITA_TEST_POSTGRES
echo "$CENTRALITA_TEST_POSTGRES"

step "cargo test --workspace"
cargo test --workspace

# The same API, routing and durability tests again, every server on PostgreSQL
# (`--store`): the second backend passes the suite the first does.
step "the store's test groups again on PostgreSQL"
CENTRALITA_TEST_BACKEND=postgres cargo test -p centralita \
    --test api --test lifecycle --test durability --test sandbox --test security_api \
    --test recordings_api --test queues_api --test ivr_api --test voicemail_api \
    --test prompts --test sip_register --test sip_calls
