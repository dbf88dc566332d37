#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Compiles the engine sources the way the kernel module includes them
# (#[path] modules, no cargo, no dependencies) with the kernel's rustc
# (1.85, from the Debian trixie root), for x86_64 and for 32-bit ARM, and
# lists the undefined symbols: they must be only memcpy/memset (plus the
# unwinder personality of the host-built core), i.e. no 64-bit division
# helpers and no panic entry points.
#
# Usage: tools/check-kernel-build.sh [ROOT]   (default /root/.cache/vchiq-rs/trixie-root)
set -eu
ROOT=${1:-/root/.cache/vchiq-rs/trixie-root}
HERE=$(cd "$(dirname "$0")/.." && pwd)
W=/tmp/vchiq-engine-check
rm -rf "$ROOT$W"
mkdir -p "$ROOT$W/src" "$ROOT$W/tools" "$ROOT$W/arm32"
cp "$HERE"/src/*.rs "$ROOT$W/src/"
cp "$HERE/tools/kernel_include_check.rs" "$ROOT$W/tools/"
printf '#![no_std]\n#![feature(compiler_builtins)]\n#![compiler_builtins]\n' > "$ROOT$W/arm32/cb.rs"
chroot "$ROOT" sh -eu -c "
cd $W
rustc --version
rustc --edition 2021 --crate-type lib --crate-name vchiq_engine -o lib.rlib src/lib.rs
rustc --edition 2021 --crate-type lib -O --emit obj -C panic=abort -o check64.o tools/kernel_include_check.rs
T=armv7-unknown-linux-gnueabihf
RUSTC_BOOTSTRAP=1 rustc --edition 2021 --crate-type rlib --crate-name core --target \$T -O \
    -o arm32/libcore.rlib /usr/lib/rustlib/src/rust/library/core/src/lib.rs
RUSTC_BOOTSTRAP=1 rustc --edition 2021 --crate-type rlib --crate-name compiler_builtins --target \$T \
    --extern core=arm32/libcore.rlib -A internal_features -o arm32/libcompiler_builtins.rlib arm32/cb.rs
rustc --edition 2021 --crate-type lib -O --emit obj -C panic=abort --target \$T \
    --extern core=arm32/libcore.rlib --extern compiler_builtins=arm32/libcompiler_builtins.rlib \
    -L arm32 -o check32.o tools/kernel_include_check.rs
"
for o in check64.o check32.o; do
    echo "== undefined symbols in $o"
    nm -u "$ROOT$W/$o"
done
if nm -u "$ROOT$W/check32.o" "$ROOT$W/check64.o" | grep -E 'div|mod|panic|unwrap|expect'; then
    echo "FAIL: division helpers or panics referenced" >&2
    exit 1
fi
echo "OK"
