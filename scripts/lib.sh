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
