# gdb script for scripts/link-order: step through a program from its first instruction to
# `main`, one instruction at a time, and write the (linkage) names of the functions it ran to
# the file named by $GPUPLAN_TRACE_OUT, one per line. What the C library of a static binary
# runs before main depends on the CPU (the string functions it picks) and on the kernel (the
# vDSO it looks symbols up in); under valgrind both differ, so callgrind does not see it.
import os

import gdb

gdb.execute("set pagination off")
gdb.execute("set print asm-demangle off")
gdb.execute("set print demangle off")
gdb.execute("starti")
main = int(gdb.parse_and_eval("(long)&main"))
names, last = set(), None
for _ in range(5_000_000):
    pc = int(gdb.parse_and_eval("$pc"))
    if pc == main:
        break
    block = gdb.block_for_pc(pc)
    name = block.function.linkage_name if block is not None and block.function is not None else None
    if name is None:
        found = gdb.execute(f"info symbol {pc}", to_string=True)
        name = found.split(" in section")[0].split(" + ")[0].strip() if " in section" in found else None
    if name is not None and name != last:
        names.add(name)
        last = name
    gdb.execute("stepi", to_string=True)
with open(os.environ["GPUPLAN_TRACE_OUT"], "w") as out:
    out.writelines(f"{name}\n" for name in sorted(names))
gdb.execute("kill")
