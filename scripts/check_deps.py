#!/usr/bin/env python3
"""Fails when a server module imports against the direction of dependencies.

    model <- db <- service <- (rest, api) ; proxy (the data plane) <- service ;
    db, http, limits <- proxy ; state and startup on top, wiring everything.

A module of src/server may import the modules its layer allows (ALLOWED). Edges that exist
today against that direction are listed in DEBTS, each with the file that holds it: a new
back edge fails the check, and so does a listed one that is gone (take it off the list, so the
list only shrinks). Test modules (`#[cfg(test)] mod tests`) are not judged.

Usage: scripts/check_deps.py [--list]   (--list prints every edge with its files)
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SERVER = os.path.join(ROOT, "src", "server")

# `metrics` holds the registry and knows no other module (the proxy feeds it, rest serves it).
FOUNDATION = {"clock", "config", "crypto", "secret", "text", "timefmt", "fast_map", "telemetry", "periods", "metrics"}

ALLOWED = {
    **{m: FOUNDATION for m in FOUNDATION},
    "db": FOUNDATION,
    "http": FOUNDATION,
    "limits": FOUNDATION,
    "proxy": FOUNDATION | {"db", "http", "limits"},
    "auth": FOUNDATION | {"db", "http", "error"},
    "error": FOUNDATION | {"db"},
    "service": FOUNDATION | {"db", "http", "proxy", "auth", "error", "limits"},
    "jobs": FOUNDATION | {"db", "http", "proxy", "service", "state"},
    "rest": FOUNDATION | {"db", "http", "auth", "service", "error", "state"},
    "guards": FOUNDATION | {"http", "auth", "error", "state"},
    "state": None,  # wires everything
    "startup": None,
    "mod": None,
}

# Edges against the direction that exist today: (from, to, file). Only ever remove lines.
DEBTS: set = set()

USE = re.compile(r"crate::server::(\{[^}]*\}|[a-z_]+)")
OUTSIDE = re.compile(r"crate::(api|app)\b")


def edges():
    found = {}
    for root, _, files in os.walk(SERVER):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, SERVER).replace(os.sep, "/")
            module = rel.split("/")[0].removesuffix(".rs")
            text = open(path, encoding="utf-8").read()
            text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
            targets = set()
            for m in USE.finditer(text):
                group = m.group(1)
                if group.startswith("{"):
                    targets |= {t.strip().split("::")[0] for t in group[1:-1].split(",") if t.strip()}
                else:
                    targets.add(group)
            targets |= {"crate::" + m.group(1) for m in OUTSIDE.finditer(text)}
            for target in targets - {module, "self"}:
                found.setdefault((module, target), set()).add(rel)
    return found


def main():
    found = edges()
    if "--list" in sys.argv:
        for (a, b), files in sorted(found.items()):
            print(f"{a:10} -> {b:12} {', '.join(sorted(files))}")
        return 0
    bad, seen_debts = [], set()
    for (a, b), files in sorted(found.items()):
        allowed = ALLOWED.get(a, FOUNDATION)
        if allowed is None or b in allowed:
            continue
        for f in sorted(files):
            if (a, b, f) in DEBTS:
                seen_debts.add((a, b, f))
            else:
                bad.append(f"src/server/{f}: {a} must not import {b}")
    gone = sorted(DEBTS - seen_debts)
    for a, b, f in gone:
        bad.append(f"src/server/{f} no longer imports {b}: take ({a!r}, {b!r}, {f!r}) off DEBTS")
    if bad:
        print("dependency direction check failed:", *bad, sep="\n  ")
        return 1
    print(f"dependency direction: ok ({len(found)} module edges, {len(DEBTS)} listed debts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
