#!/usr/bin/env bash
# Builds the four Lambda functions for the AWS `provided.al2023` x86_64 runtime and writes
# target/lambda/<function>/bootstrap.zip, each holding one executable `bootstrap`.
#
# provided.al2023 ships glibc 2.34, so binaries are linked against that version with
# cargo-zigbuild (zig from the `ziglang` PyPI package); the script fails if any binary needs
# a newer GLIBC symbol. Tools are installed into .tools/ and .venv/ when missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

FUNCTIONS=(serialize-image-data classify-image filter-low-confidence monitor-drift)
TARGET=x86_64-unknown-linux-gnu
GLIBC=2.34
OUT_DIR="$REPO_ROOT/target/lambda"
CARGO_TARGET="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

pip_ensure ziglang 'ziglang==0.14.1'
cargo_tool_ensure cargo-zigbuild cargo-zigbuild@0.24.1
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"

log "building ${FUNCTIONS[*]} for $TARGET (glibc $GLIBC, profile lambda-release)"
packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done
(cd "$REPO_ROOT" && cargo zigbuild --locked --profile lambda-release --target "$TARGET.$GLIBC" "${packages[@]}")

max_glibc() { objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1; }

status=0
printf '%-24s %12s %12s %8s\n' function binary zip glibc
for f in "${FUNCTIONS[@]}"; do
    binary="$CARGO_TARGET/$TARGET/lambda-release/$f"
    [ -x "$binary" ] || die "missing build output $binary"
    needed=$(max_glibc "$binary")
    if [ -n "$needed" ] && [ "$(printf '%s\n%s\n' "$needed" "$GLIBC" | sort -V | tail -1)" != "$GLIBC" ]; then
        echo "error: $f needs GLIBC_$needed, newer than the runtime's $GLIBC" >&2
        status=1
    fi
    mkdir -p "$OUT_DIR/$f"
    # Deterministic zip (fixed mtime, fixed mode) so an unchanged binary gives an unchanged
    # source_code_hash and Terraform does not redeploy it.
    "$VENV_DIR/bin/python" - "$binary" "$OUT_DIR/$f/bootstrap.zip" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as fh, zipfile.ZipFile(dst + ".tmp", "w") as zf:
    zf.writestr(info, fh.read(), compresslevel=9)
import os; os.replace(dst + ".tmp", dst)
PY
    printf '%-24s %12s %12s %8s\n' "$f" "$(stat -c %s "$binary")" "$(stat -c %s "$OUT_DIR/$f/bootstrap.zip")" "${needed:-none}"
done
exit $status
