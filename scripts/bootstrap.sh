#!/usr/bin/env bash
# Set up everything the demo, the tests and the benchmarks need, in the checkout, idempotently:
#   .venv/                          pinned Python packages (requirements-test.txt)
#   .work/venv-core-2.17/           the oldest supported ansible-core for the compat suite
#                                   (tests/integration/requirements-core-2.17.txt)
#   .work/venv-eda/                 ansible-rulebook for the eda suite (tests/eda/requirements-eda.txt),
#                                   and Java 17 from Debian's packages when the machine has no Java 17
#   .work/collections/              amazon.aws and community.aws, and this collection as a symlink
#   ~/.ansible/test/cache/get_pip_* a stand-in so that ansible-test works without its download host
# A second run checks stamps and returns in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
WORK="$ROOT/.work"
COMPAT_VENV="$WORK/venv-core-2.17"
COMPAT_REQUIREMENTS="$ROOT/tests/integration/requirements-core-2.17.txt"
EDA_VENV="$WORK/venv-eda"
EDA_REQUIREMENTS="$ROOT/tests/eda/requirements-eda.txt"
COLLECTIONS="$WORK/collections"
PYTHON="${PYTHON:-python3}"
# The community package that carries the pinned amazon.aws and community.aws (see requirements.yml).
ANSIBLE_WHEEL_VERSION="14.5.0"
AMAZON_AWS_VERSION="11.4.0"
COMMUNITY_AWS_VERSION="11.2.0"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# ensure_venv DIR TOOL REQUIREMENTS [MORE_STAMPED_FILES...]: a virtualenv in DIR with REQUIREMENTS installed (its
# bin/TOOL present), made or brought up to date unless its stamp of the listed files says it is current.
ensure_venv() {
    local dir="$1" tool="$2" requirements="$3" want
    shift 3
    want="$(stamp_of "$@" "$requirements")"
    if [[ -x "$dir/bin/$tool" && "$(cat "$dir/.stamp" 2>/dev/null)" == "$want" ]]; then
        return
    fi
    log "creating the virtualenv in ${dir#"$ROOT"/}"
    [[ -x "$dir/bin/python" ]] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$dir/.stamp"
}

setup_venv() {
    ensure_venv "$VENV" python "$ROOT/requirements-test.txt" "$ROOT/requirements.txt"
}

setup_compat_venv() {
    ensure_venv "$COMPAT_VENV" ansible-playbook "$COMPAT_REQUIREMENTS" "$ROOT/requirements.txt"
}

java_17_present() {
    command -v java > /dev/null && java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'
}

setup_eda_venv() {
    if ! java_17_present; then
        log "installing Java 17 (openjdk-17-jre-headless) for ansible-rulebook"
        local as_root=()
        [[ "$(id -u)" == 0 ]] || as_root=(sudo)
        "${as_root[@]}" apt-get update -qq &&
            "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless > /dev/null
    fi
    ensure_venv "$EDA_VENV" ansible-rulebook "$EDA_REQUIREMENTS"
}

collections_present() {
    local manifest
    for manifest in "$COLLECTIONS/ansible_collections/amazon/aws/MANIFEST.json" \
                    "$COLLECTIONS/ansible_collections/community/aws/MANIFEST.json"; do
        [[ -f "$manifest" ]] || return 1
    done
    grep -q "\"version\": \"$AMAZON_AWS_VERSION\"" "$COLLECTIONS/ansible_collections/amazon/aws/MANIFEST.json" &&
        grep -q "\"version\": \"$COMMUNITY_AWS_VERSION\"" "$COLLECTIONS/ansible_collections/community/aws/MANIFEST.json"
}

install_from_galaxy() {
    timeout 60 "$VENV/bin/ansible-galaxy" collection install --timeout 15 -r "$ROOT/requirements.yml" \
        -p "$COLLECTIONS" >/dev/null 2>&1
}

install_from_pypi_wheel() {
    # Galaxy is unreachable here; the `ansible` package on PyPI carries both collections.
    local download="$WORK/downloads"
    mkdir -p "$download"
    local wheel="$download/ansible-$ANSIBLE_WHEEL_VERSION-py3-none-any.whl"
    if [[ ! -f "$wheel" ]]; then
        "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
            --python-version 3.12 "ansible==$ANSIBLE_WHEEL_VERSION" -d "$download"
    fi
    rm -rf "$COLLECTIONS/ansible_collections/amazon" "$COLLECTIONS/ansible_collections/community"
    "$VENV/bin/python" - "$wheel" "$COLLECTIONS" <<'EOF'
import sys
import zipfile

wheel, target = sys.argv[1], sys.argv[2]
prefixes = ("ansible_collections/amazon/aws/", "ansible_collections/community/aws/")
with zipfile.ZipFile(wheel) as archive:
    archive.extractall(target, [name for name in archive.namelist() if name.startswith(prefixes)])
EOF
}

setup_collections() {
    mkdir -p "$COLLECTIONS/ansible_collections/dedicated_hosts"
    ln -sfn "$ROOT" "$COLLECTIONS/ansible_collections/dedicated_hosts/failover"
    collections_present && return
    log "installing amazon.aws $AMAZON_AWS_VERSION and community.aws $COMMUNITY_AWS_VERSION"
    if install_from_galaxy && collections_present; then
        return
    fi
    log "Galaxy is not reachable: extracting them from the ansible $ANSIBLE_WHEEL_VERSION wheel on PyPI"
    install_from_pypi_wheel
    collections_present || { log "could not install amazon.aws and community.aws"; exit 1; }
}

setup_ansible_test_cache() {
    # ansible-test downloads a pip bootstrap script before every sanity run; this stand-in
    # installs pip from the local index instead. ensurepip blanks PIP_CONFIG_FILE, and the
    # machine's pip only reaches the package index through its config, so the second pip
    # call gets the original environment back.
    local cache="$HOME/.ansible/test/cache"
    mkdir -p "$cache"
    local version
    for version in 24_2 25_2 23_1; do
        local target="$cache/get_pip_$version.py"
        cat > "$target" <<'EOF'
"""Offline stand-in for get-pip.py: ensurepip, then pip install from the configured index."""
import os
import subprocess
import sys

ORIGINAL_ENV = dict(os.environ)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
# --no-setuptools and --no-wheel are get-pip's own options, not pip's.
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if ARGS:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + ARGS, env=ORIGINAL_ENV)
EOF
    done
}

main() {
    mkdir -p "$WORK"
    setup_venv
    setup_compat_venv
    setup_eda_venv
    setup_collections
    setup_ansible_test_cache
}

main "$@"
