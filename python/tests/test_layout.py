"""The ctypes structs against the C header: every member's offset and every struct's size, as a
C compiler lays them out."""

import os
import subprocess
import tempfile

from sdxl import _native


def test_every_struct_matches_the_header():
    include = os.environ.get("SDXL_INCLUDE", os.path.join(os.path.dirname(__file__), "..", "..", "include"))
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include \"sdxl/sdxl.h\"", "int main(void) {"]
    expected = []
    for c_name, struct in _native.STRUCTS.items():
        lines.append(f'  printf("%zu\\n", sizeof({c_name}));')
        expected.append((f"sizeof({c_name})", _native.ctypes.sizeof(struct)))
        for member, _ in struct._fields_:
            lines.append(f'  printf("%zu\\n", offsetof({c_name}, {member}));')
            expected.append((f"{c_name}.{member}", getattr(struct, member).offset))
    lines.append("  return 0;\n}")
    with tempfile.TemporaryDirectory() as folder:
        source, binary = os.path.join(folder, "layout.c"), os.path.join(folder, "layout")
        with open(source, "w") as f:
            f.write("\n".join(lines))
        subprocess.run([os.environ.get("CC", "cc"), "-I", include, source, "-o", binary], check=True)
        measured = [int(v) for v in subprocess.run([binary], check=True, capture_output=True, text=True).stdout.split()]
    wrong = [f"{name}: C {c} ctypes {py}" for (name, py), c in zip(expected, measured) if c != py]
    assert len(measured) == len(expected)
    assert not wrong, "\n".join(wrong)
