#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# DKMS PRE_BUILD check: the family is Rust, so the target kernel must be a full Rust-enabled
# build tree (its rust/ artefacts are not in most distribution header packages).
#   check-kernel.sh KERNEL_BUILD_DIR
k=${1:?usage: check-kernel.sh KERNEL_BUILD_DIR}
fail() {
	echo "vchiq-rs: cannot build against $k: $*" >&2
	echo "vchiq-rs: it needs a full kernel build tree with CONFIG_RUST=y, built with the rustc" >&2
	echo "vchiq-rs: on PATH (see Documentation/packaging.rst); header packages do not have one." >&2
	exit 1
}
[ -f "$k/.config" ] || fail "no .config"
grep -q '^CONFIG_RUST=y' "$k/.config" || fail "CONFIG_RUST is not enabled"
grep -q '^CONFIG_AUXILIARY_BUS=y' "$k/.config" || fail "CONFIG_AUXILIARY_BUS is not built in"
for f in rust/libkernel.rmeta rust/libcore.rmeta; do
	[ -f "$k/$f" ] || fail "no $f (the kernel's Rust crates were not built)"
done
ls "$k"/rust/libmacros*.so >/dev/null 2>&1 || fail "no rust/libmacros*.so (the kernel's proc macros)"
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$k/.config")
have=$(rustc --version 2>/dev/null)
[ -z "$want" ] || [ "$want" = "$have" ] ||
	fail "it was built with '$want' but rustc on PATH is '${have:-missing}'"
exit 0
