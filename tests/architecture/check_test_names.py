#!/usr/bin/env python3
"""Fails when a doctest case name would be cut by ctest.

ctest splits test names on ';' (CMake's list separator), so a case whose name holds one is
registered under a shortened name that matches no case: it "passes" without running.
Usage: check_test_names.py TESTS_DIR
"""
import pathlib
import re
import sys

CASE = re.compile(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', re.S)
PIECE = re.compile(r'"((?:[^"\\]|\\.)*)"')

bad = []
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.cpp")):
    text = path.read_text(encoding="utf-8")
    for m in CASE.finditer(text):
        name = "".join(PIECE.findall(m.group(1)))
        if ";" in name:
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"{path}:{line}: test case name contains ';': {name}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
