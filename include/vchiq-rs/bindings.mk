# SPDX-License-Identifier: GPL-2.0
# Generates the Rust side of the family's boundaries (include/vchiq-rs/vchiq.h and sim.h)
# with the kernel's own bindgen and flags (rust/Makefile's cmd_bindgen), so that the C
# headers are the only definition. Included by the Kbuild of every module that crosses a
# boundary; the module's crate root (CRATE, set before the include) includes the result
# through include/vchiq-rs/bindings.rs, which finds it through $VCHIQ_RS_BINDINGS.
#
# Only clang-built kernels are supported (the family is built with LLVM=1), so the C flags
# are the kernel's c_flags unchanged, as rust/Makefile uses them for clang.

ifndef CONFIG_CC_IS_CLANG
$(error vchiq-rs needs a kernel built with clang (LLVM=1): bindgen takes its C flags)
endif

vchiq_rs_bindgen_params := $(shell grep -Ev '^#|^$$' $(srctree)/rust/bindgen_parameters)

quiet_cmd_vchiq_rs_bindgen = BINDGEN $@
      cmd_vchiq_rs_bindgen = \
	$(BINDGEN) $< $(vchiq_rs_bindgen_params) --rust-target 1.85 \
		--use-core --with-derive-default --ctypes-prefix kernel::ffi --no-layout-tests \
		--no-debug '.*' --enable-function-attribute-detection \
		--allowlist-file '.*/include/vchiq-rs/.*\.h' --no-recursive-allowlist \
		--blocklist-type auxiliary_device \
		--raw-line 'use kernel::bindings::*;' --raw-line 'use pin_init::MaybeZeroable;' \
		-o $@ -- $(c_flags) -fno-builtin -D__BINDGEN__ -DMODULE

$(obj)/vchiq_bindings.rs: $(src)/../include/vchiq-rs/bindings.h FORCE
	$(call if_changed_dep,vchiq_rs_bindgen)

targets += vchiq_bindings.rs
$(obj)/$(CRATE).o: $(obj)/vchiq_bindings.rs
export VCHIQ_RS_BINDINGS := $(abspath $(obj)/vchiq_bindings.rs)
