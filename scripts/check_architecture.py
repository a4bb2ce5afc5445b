#!/usr/bin/env python3
"""Checks that docs/architecture/layers.dot is the include graph of include/weft/, and that the
rendered pictures are up to date.

layers.dot names every header of include/weft/ in exactly one box (a node's `files`
attribute, paths under include/weft/). The check fails when
  - a header is in no box or in two (a new header must be placed in the picture);
  - a header includes one of another box and no path of arrows leads there (the picture may
    leave out an arrow that a path already implies);
  - the picture has an arrow that no include uses (a stale arrow), except to `planned` boxes;
  - the arrows form a cycle (they must all point down);
  - a step of continuation.dot names a function its file does not define (`file`, `symbol`);
  - with Graphviz installed, an .svg shows other boxes, arrows or text than what `dot -Tsvg`
    makes of its .dot (positions are not compared: they depend on the fonts installed).
Usage: scripts/check_architecture.py [--render]   (--render rewrites the .svg files)
"""
import html
import os
import re
import shutil
import subprocess
import sys

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
inc = os.path.join(root, "include", "weft")
arch = os.path.join(root, "docs", "architecture")
errors = []


def parse_dot(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"//[^\n]*", "", text)
    nodes = {}
    for m in re.finditer(r"^\s*(\w+)\s*\[(.*?)\]\s*;", text, re.M | re.S):
        attrs = dict(re.findall(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', m.group(2)))
        if m.group(1) not in ("node", "edge", "graph"):
            nodes[m.group(1)] = attrs
    edges = set(re.findall(r"^\s*(\w+)\s*->\s*(\w+)", text, re.M))
    return nodes, edges


def headers():
    out = []
    for d, _, files in os.walk(inc):
        for f in files:
            if f.endswith(".hpp"):
                out.append(os.path.relpath(os.path.join(d, f), inc))
    return sorted(out)


def check_layers():
    nodes, edges = parse_dot(os.path.join(arch, "layers.dot"))
    box = {}
    for name, attrs in nodes.items():
        for f in attrs.get("files", "").split():
            if f in box:
                errors.append(f"layers.dot: {f} is in two boxes ({box[f]}, {name})")
            box[f] = name
    all_headers = headers()
    for h in all_headers:
        if h not in box:
            errors.append(f"layers.dot: include/weft/{h} is in no box: place it in the picture")
    for f in box:
        if f not in all_headers:
            errors.append(f"layers.dot: {f} names no header of include/weft/")
    for a, b in edges:
        for n in (a, b):
            if n not in nodes:
                errors.append(f"layers.dot: an arrow names {n}, which is no box")
    def reaches(a, b, seen=None):
        seen = seen if seen is not None else set()
        for x, y in edges:
            if x == a and y not in seen:
                seen.add(y)
                if y == b or reaches(y, b, seen):
                    return True
        return False

    used = set()
    for h in all_headers:
        text = open(os.path.join(inc, h), encoding="utf-8").read()
        for target in re.findall(r"^#include <weft/([^>]+)>", text, re.M):
            a, b = box.get(h), box.get(target)
            if a is None or b is None or a == b:
                continue
            used.add((a, b))
            if not reaches(a, b):
                errors.append(f"include/weft/{h} includes weft/{target}: no path {a} -> {b} in layers.dot")
    for a, b in sorted(edges - used):
        if nodes.get(a, {}).get("planned") or nodes.get(b, {}).get("planned"):
            continue
        errors.append(f"layers.dot: no include uses the arrow {a} -> {b}: remove it")
    # the arrows point down: no cycle
    state = {}

    def visit(n, path):
        state[n] = 1
        for a, b in edges:
            if a == n:
                if state.get(b) == 1:
                    errors.append("layers.dot: the arrows form a cycle: " + " -> ".join(path + [b]))
                elif state.get(b) is None:
                    visit(b, path + [b])
        state[n] = 2

    for n in nodes:
        if n not in state:
            visit(n, [n])


def check_path():
    nodes, _ = parse_dot(os.path.join(arch, "continuation.dot"))
    steps = [a for a in nodes.values() if "file" in a]
    if not steps:
        errors.append("continuation.dot: no step names a file")
    for attrs in steps:
        path = os.path.join(root, attrs["file"])
        if not os.path.exists(path):
            errors.append(f"continuation.dot: {attrs['file']} does not exist")
            continue
        if attrs.get("symbol", "") not in open(path, encoding="utf-8").read():
            errors.append(f"continuation.dot: {attrs['file']} has no '{attrs.get('symbol')}'")


def picture_of(svg_text):
    """What an SVG made by dot shows: its node and edge titles and its text lines (positions and
    sizes depend on the fonts installed, so they are not compared)."""
    unescape = lambda t: html.unescape(t).replace("\u00a0", " ")
    titles = {unescape(t) for t in re.findall(r"<title>([^<]*)</title>", svg_text)}
    texts = {unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg_text)}
    return titles, texts


def check_pictures(render):
    dot = shutil.which("dot")
    if dot is None:
        print("check_architecture: Graphviz is not installed (apt-get install graphviz): pictures not checked")
        return
    for name in ("layers", "continuation"):
        src = os.path.join(arch, name + ".dot")
        svg = os.path.join(arch, name + ".svg")
        made = subprocess.run([dot, "-Tsvg", src], check=True, capture_output=True).stdout.decode()
        if render:
            open(svg, "w", encoding="utf-8").write(made)
        elif not os.path.exists(svg) or picture_of(open(svg, encoding="utf-8").read()) != picture_of(made):
            errors.append(f"docs/architecture/{name}.svg is not {name}.dot rendered: run scripts/check_architecture.py --render")


check_layers()
check_path()
check_pictures("--render" in sys.argv[1:])
for e in errors:
    print("check_architecture:", e)
if errors:
    sys.exit(1)
print("check_architecture: the pictures match the include graph and the code")
