# Shared shell helpers, sourced by the scripts in this directory. Keep logic here thin:
# anything more than plumbing belongs in Rust.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
# Project-local tools (cargo-installed binaries, the Python venv) so a fresh machine needs
# nothing installed by hand and nothing leaks into the user's environment.
TOOLS_DIR="$REPO_ROOT/.tools"
VENV_DIR="$REPO_ROOT/.venv"
export PATH="$TOOLS_DIR/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_venv: create the project venv if missing and put it first on PATH.
ensure_venv() {
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        log "creating Python venv at $VENV_DIR"
        python3 -m venv "$VENV_DIR" || die "python3 -m venv failed (install python3-venv)"
        "$VENV_DIR/bin/python" -m pip install --quiet --upgrade pip >/dev/null
    fi
    export PATH="$VENV_DIR/bin:$PATH"
}

# pip_ensure MODULE REQUIREMENT...: pip-install REQUIREMENTs unless MODULE already imports.
pip_ensure() {
    local module=$1; shift
    ensure_venv
    if ! "$VENV_DIR/bin/python" -c "import $module" 2>/dev/null; then
        log "pip install $*"
        "$VENV_DIR/bin/python" -m pip install --quiet "$@" || die "pip install $* failed"
    fi
}

# cargo_tool_ensure BINARY CRATE[@VERSION]: cargo-install a tool into .tools unless present.
cargo_tool_ensure() {
    local binary=$1 crate=$2
    if ! command -v "$binary" >/dev/null 2>&1; then
        log "cargo install $crate (into $TOOLS_DIR)"
        cargo install --locked --quiet --root "$TOOLS_DIR" "$crate" || die "cargo install $crate failed"
    fi
}

# build_scones: builds the `scones` binary the scripts run and prints its path. Profile `app`
# (see Cargo.toml). The local stack only, without the `aws` feature (the AWS SDK crates are
# a third of a cold build), unless SCONES_AWS=1 (scripts/dashboard.sh --aws sets it): that
# build has a target directory of its own, because the SDK crates switch on features of
# shared dependencies (serde, syn, tokio, ...) and one directory for both would rebuild most
# of the tree (~5 min measured) at every switch.
#
# A first build takes minutes (7-8 measured on 2 cores, 11-13 with --aws): it says so, and on
# a terminal shows cargo's progress bar rather than minutes of silence; later builds, which
# take seconds, stay quiet.
build_scones() {
    local target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}" bin features quiet=(--quiet)
    if [ "${SCONES_AWS:-0}" = 1 ]; then
        target="$target/with-aws" features=(--features aws)
    else
        features=(--no-default-features)
    fi
    bin="$target/app/scones"
    if [ ! -x "$bin" ]; then
        log "first build of scones (several minutes on 2 cores; later runs start in seconds)"
        if [ -t 2 ]; then quiet=(); fi
    fi
    CARGO_TARGET_DIR="$target" \
        cargo build "${quiet[@]}" --locked --profile app -p scones --bin scones "${features[@]}" >&2
    echo "$bin"
}

# fresh_home_from HOME: a new temporary home with HOME's staged data and trained models but
# no store and no capture, as a first run finds them (so benchmark runs start alike); prints
# its path. The caller removes it.
fresh_home_from() {
    local source=$1 home part
    home="$(mktemp -d)"
    mkdir -p "$home/bucket"
    for part in train test train.lst test.lst staged.json models; do
        if [ -e "$source/bucket/$part" ]; then cp -r "$source/bucket/$part" "$home/bucket/"; fi
    done
    echo "$home"
}

# shared_data_dir: the CIFAR-100 bikes PNGs used by tests and benchmarks.
shared_data_dir() {
    echo "${SCONES_SHARED_DATA:-$REPO_ROOT/../shared/data/cifar100-bikes}"
}

# apt_ensure BINARY PACKAGE: install a Debian package when BINARY is missing (needs root or
# passwordless sudo; otherwise says what to install).
apt_ensure() {
    local binary=$1 package=$2 sudo=""
    command -v "$binary" >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    log "apt-get install $package (for $binary)"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package"; } >/dev/null 2>&1; then
        die "$binary is missing: install the $package package"
    fi
}
