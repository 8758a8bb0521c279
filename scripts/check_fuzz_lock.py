#!/usr/bin/env python3
"""Fails when fuzz/Cargo.lock has fallen out of step with Cargo.lock.

The fuzz targets build the guest and the host natively from their own workspace and lock
file (scripts/fuzz.sh passes --locked), so they could quietly keep fuzzing older
dependencies than the ones shipped. In step means: wherever both lock files have a
release line of a crate (semver-compatible versions: the same major, or the same minor
below 1.0), they lock the same version of it. Lines only one of them has (the fuzzer's
own crates, the host's test-only ones such as rcgen's base64 0.23) are not compared.

    scripts/check_fuzz_lock.py [ROOT]     exit 0 in step, 1 with the differences listed
"""

import sys
import tomllib
from pathlib import Path


Line = tuple[str, str]  # (crate name, release line such as "1" or "0.22")


def release_line(version: str) -> str:
    """The semver-compatible line of a version: "1.2.3" -> "1", "0.22.1" -> "0.22"."""
    parts = version.split("+")[0].split("-")[0].split(".")
    if parts[0] != "0":
        return parts[0]
    return ".".join(parts[:2]) if parts[1] != "0" else ".".join(parts[:3])


def locked_versions(path: Path) -> dict[Line, set[str]]:
    """(crate, release line) -> the versions locked for it."""
    with path.open("rb") as f:
        lock = tomllib.load(f)
    versions: dict[Line, set[str]] = {}
    for package in lock.get("package", []):
        # Path dependencies (the project's own crates) carry no source: not compared.
        if "source" in package:
            line = (package["name"], release_line(package["version"]))
            versions.setdefault(line, set()).add(package["version"])
    return versions


def differences(main: dict[Line, set[str]], fuzz: dict[Line, set[str]]) -> list[str]:
    return [
        f"{name} {line}.x: Cargo.lock has {', '.join(sorted(main[(name, line)]))}; "
        f"fuzz/Cargo.lock has {', '.join(sorted(fuzz[(name, line)]))}"
        for name, line in sorted(main.keys() & fuzz.keys())
        if main[(name, line)] != fuzz[(name, line)]
    ]


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    found = differences(
        locked_versions(root / "Cargo.lock"), locked_versions(root / "fuzz" / "Cargo.lock")
    )
    if found:
        print("fuzz/Cargo.lock is out of step with Cargo.lock:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        print(
            "update it: (cd fuzz && cargo update -p CRATE --precise VERSION) for each",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
