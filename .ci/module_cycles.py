#!/usr/bin/env python3
"""Fails if a module of a crate imports a module that imports it back (ARCHITECTURE.md,
"Invariants"). A module's imports are its `crate::module` paths and the names it takes from
the crate root that the root re-exports from a module; comments and unit tests are left out."""
import glob
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates")
found = []
for src in sorted(glob.glob(os.path.join(root, "*", "src"))):
    lib = os.path.join(src, "lib.rs")
    lib_text = open(lib).read() if os.path.exists(lib) else ""
    reexported = {}
    for module, items in re.findall(r"pub use ([a-z_]+)::\{([^}]*)\};", lib_text, re.S):
        for item in re.findall(r"[A-Za-z_]+", items):
            reexported[item] = module
    for module, item in re.findall(r"pub use ([a-z_]+)::([A-Za-z_]+);", lib_text):
        reexported[item] = module
    imports = {}
    for path in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        module = os.path.relpath(path, src)[:-3].split(os.sep)[0]
        if module in ("lib", "main"):
            continue
        text = open(path).read().split("#[cfg(test)]")[0]
        text = "\n".join(l for l in text.split("\n") if not l.strip().startswith("//"))
        used = set(re.findall(r"crate::([a-z_]+)", text))
        for group in re.findall(r"use crate::\{([^;]*)\};", text, re.S):
            used |= set(re.findall(r"(?:^|[\s,{])([a-z_]+)::", group))
            used |= {reexported[n] for n in re.findall(r"[A-Z][A-Za-z_]+", group) if n in reexported}
        used |= {reexported[n] for n in re.findall(r"crate::([A-Z][A-Za-z_]+)", text) if n in reexported}
        imports.setdefault(module, set()).update(u for u in used if u != module)
    for a, used in imports.items():
        for b in used:
            if a < b and a in imports.get(b, ()):
                found.append(f"{os.path.basename(os.path.dirname(src))}: {a} <-> {b}")
if found:
    print("modules that import each other:\n  " + "\n  ".join(found), file=sys.stderr)
    sys.exit(1)
print("no module imports a module that imports it back")
