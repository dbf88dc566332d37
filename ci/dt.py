#!/usr/bin/env python3
"""Turns two unused virtio-mmio transports of QEMU virt's device tree (DTS text) into
bcm2835/bcm2836 VCHIQ nodes; see ci/dt.   usage: dt.py IN.dts OUT.dts"""
import re, sys
src = open(sys.argv[1]).read()
nodes = []
# (transport address, compatible)
for addr, compatible in ((0xa002000, "brcm,bcm2835-vchiq"), (0xa002200, "brcm,bcm2836-vchiq")):
    m = re.search(r"\n(\t+)virtio_mmio@%x \{\n(.*?)\n\1\};\n" % addr, src, re.S)
    if not m:
        sys.exit("no virtio_mmio@%x node in QEMU's tree" % addr)
    body = m.group(2)
    irq = re.search(r"interrupts = <([^>]*)>;", body).group(1)
    cells = re.search(r"reg = <([^>]*)>;", body).group(1).split()
    if len(cells) != 4:
        sys.exit("unexpected reg cells: %r" % cells)
    src = src[: m.start()] + "\n" + src[m.end():]
    bell = addr + 0x40
    nodes.append(
        "\tvchiq@%x {\n\t\tcompatible = \"%s\";\n\t\treg = <%s 0x%x %s 0x0c>;\n"
        "\t\tinterrupts = <%s>;\n\t};\n" % (bell, compatible, cells[0], bell, cells[2], irq)
    )
end = src.rstrip().rfind("};")
open(sys.argv[2], "w").write(src[:end] + "".join(nodes) + src[end:])
