#!/usr/bin/env python3
"""Module boundary check: fails when code reaches into a module's private files.

Rules, generated from one list (the directories under modules/):
  * modules/<m>/ may include public headers (crm/...) and its own files, nothing of another
    module's directory;
  * src/ (the platform) may include no module's private files;
  * include/crm/<m>/ (a module's public contract) may include only crm/platform/... and its
    own public headers or other modules' public headers, never private files;
  * no public header includes anything from modules/ or src/.
Usage: check_boundaries.py ROOT   (exit 1 and one line per violation when broken)
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def modules_of(root):
    base = os.path.join(root, "modules")
    if not os.path.isdir(base):
        return []
    return sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))


def sources(root, sub):
    top = os.path.join(root, sub)
    for dirpath, _, files in os.walk(top):
        for f in files:
            if f.endswith((".hpp", ".h", ".cpp", ".cc", ".ipp")):
                yield os.path.join(dirpath, f)


def owner(path, root, modules):
    rel = os.path.relpath(path, root).split(os.sep)
    if rel[0] == "modules" and len(rel) > 2 and rel[1] in modules:
        return ("module", rel[1])
    if rel[0] == "include" and len(rel) > 2 and rel[1] == "crm":
        return ("public", rel[2] if len(rel) > 3 else "")
    if rel[0] == "src":
        return ("platform", "")
    return ("other", "")


def resolve(include, including_file, root, modules):
    """Which module's private area an include reaches, or None."""
    candidates = [os.path.normpath(os.path.join(os.path.dirname(including_file), include))]
    for m in modules:
        candidates.append(os.path.normpath(os.path.join(root, "modules", m, include)))
    parts = include.replace("\\", "/").split("/")
    if parts[0] == "modules" and len(parts) > 1 and parts[1] in modules:
        return parts[1]
    for c in candidates:
        if os.path.exists(c):
            rel = os.path.relpath(c, root).split(os.sep)
            if rel[0] == "modules" and len(rel) > 2 and rel[1] in modules:
                return rel[1]
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    modules = modules_of(root)
    violations = []
    for sub in ("modules", "src", "include"):
        for path in sources(root, sub):
            kind, name = owner(path, root, modules)
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                target = resolve(inc, path, root, modules)
                rel = os.path.relpath(path, root)
                if kind == "module" and target and target != name:
                    violations.append(f"{rel}: includes {inc}, a private file of module '{target}'")
                elif kind in ("platform", "public") and target:
                    violations.append(f"{rel}: includes {inc}, a private file of module '{target}'")
                elif kind == "public" and (inc.startswith("modules/") or inc.startswith("src/")):
                    violations.append(f"{rel}: public header includes private path {inc}")
    for v in violations:
        print(v)
    print(f"{len(modules)} module(s) checked, {len(violations)} violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
