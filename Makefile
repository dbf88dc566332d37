# SPDX-License-Identifier: GPL-2.0
# Build the module family against a Rust-enabled kernel build tree:
#
#   make KDIR=/path/to/linux-build LLVM=1 ARCH=arm64     # or ARCH=arm
#
# Without KDIR, `make` builds against the project's own arm64 debug test kernel inside its
# toolchain root (ci/bootstrap and ci/kernel make both). `make demo` and `make check` are
# the README's two commands; `make soak` (endurance, hours) and `make bench` (figures on the
# fast kernels) are not part of CI; `make dkms` tests the DKMS package and `make intree` the in-tree build
# (Documentation/packaging.rst).

ifeq ($(KDIR),)

.PHONY: modules demo check soak bench dkms intree clean
modules:
	./ci/modules arm64 debug
demo:
	./ci/demo
check:
	./ci/test
soak:
	./ci/soak $(SOAK_ARGS)
bench:
	./ci/bench
dkms:
	./ci/dkms
intree:
	./ci/intree
	./ci/intree --builtin
clean:
	rm -rf out

else

export KBUILD_EXTMOD := $(CURDIR)
.PHONY: default modules clean modules_install
default: modules
modules clean modules_install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $@

endif
