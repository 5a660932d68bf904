#!/usr/bin/env python3
"""The version of a DaCe integration tag, read from the tag's own dace/version.py.

    dace_version.py VERSION_FILE [--tag TAG] [--epoch N]

Reads `__version__` from VERSION_FILE (`-`: standard input) without executing it, prints its
canonical PEP 440 form (`43!2026.01.21` -> `43!2026.1.21`, the form in the wheel's filename) on
standard output and exits 0. With --tag it also checks the version against the date in the tag
name and exits 1, saying what is wrong, when they disagree:

    __gt4py-next-integration_YYYY_MM_DD      needs the release segment YYYY.M.D
    __gt4py-next-integration_YYYY_MM_DD_N    (N a number or a roman numeral I, II, ...: another
                                             tag of the same day) needs YYYY.M.D.N

Pre-, post-, dev- and local segments are allowed (`43!2026.1.21.post1`). With --epoch the epoch
must be N (DaCe's integration builds use 43, which puts them above every dace release on PyPI).

Exit status: 0 valid, 1 the version is missing, invalid or disagrees with the tag, 2 usage.
Python 3 standard library only; run by update_workflows/dace-updater.yml.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import os
import re
import sys

TAG_PREFIX = "__gt4py-next-integration_"
TAG_RE = re.compile(
    r"^(?:refs/tags/)?" + re.escape(TAG_PREFIX) + r"(\d{4})_(\d{2})_(\d{2})(?:_(\d+|[IVXLC]+))?$"
)

# PEP 440, appendix B ("the canonical public version regex" extended with local versions).
VERSION_RE = re.compile(
    r"""
    ^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$
    """,
    re.VERBOSE | re.IGNORECASE,
)
PRE_SPELLINGS = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


class Refusal(Exception):
    """A version or tag that cannot be published; the message says why."""


class Version:
    """A parsed PEP 440 version; str() is its canonical form (as `packaging` prints it)."""

    def __init__(self, text: str):
        match = VERSION_RE.match(text)
        if not match:
            raise Refusal(f"'{text}' is not a valid PEP 440 version")
        self.epoch = int(match["epoch"] or 0)
        self.release = tuple(int(part) for part in match["release"].split("."))
        self.pre = None
        if match["pre"]:
            self.pre = (PRE_SPELLINGS[match["pre_l"].lower()], int(match["pre_n"] or 0))
        self.post = None
        if match["post"]:
            self.post = int(match["post_n1"] or match["post_n2"] or 0)
        self.dev = None
        if match["dev"]:
            self.dev = int(match["dev_n"] or 0)
        self.local = None
        if match["local"]:
            parts = re.split(r"[-_.]", match["local"].lower())
            self.local = ".".join(str(int(p)) if p.isdigit() else p for p in parts)

    def __str__(self) -> str:
        text = f"{self.epoch}!" if self.epoch else ""
        text += ".".join(str(part) for part in self.release)
        if self.pre:
            text += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            text += f".post{self.post}"
        if self.dev is not None:
            text += f".dev{self.dev}"
        if self.local:
            text += f"+{self.local}"
        return text


def read_version(source: str, name: str) -> str:
    """The string assigned to `__version__` at the top level of a Python file (never run)."""
    try:
        tree = ast.parse(source, filename=name)
    except SyntaxError as error:
        raise Refusal(f"{name} is not valid Python: {error}") from None
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__version__" for t in targets):
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                raise Refusal(f"{name}:{node.lineno}: __version__ is not a plain string literal")
            found.append(value.value)
    if not found:
        raise Refusal(f"{name} assigns no __version__ string")
    if len(set(found)) > 1:
        raise Refusal(f"{name} assigns __version__ more than once: {', '.join(map(repr, found))}")
    return found[0]


def roman_to_int(numeral: str) -> int:
    total = 0
    for i, char in enumerate(numeral):
        value = ROMAN[char]
        if i + 1 < len(numeral) and ROMAN[numeral[i + 1]] > value:
            total -= value
        else:
            total += value
    return total


def expected_release(tag: str) -> tuple[int, ...]:
    """The release segment an integration tag asks for: (YYYY, M, D) or (YYYY, M, D, N)."""
    match = TAG_RE.match(tag)
    if not match:
        raise Refusal(
            f"tag '{tag}' is not an integration tag {TAG_PREFIX}YYYY_MM_DD[_N]: "
            "only those are published"
        )
    year, month, day = (int(g) for g in match.groups()[:3])
    try:
        datetime.date(year, month, day)
    except ValueError:
        raise Refusal(f"tag '{tag}' names no valid date ({year:04}-{month:02}-{day:02})") from None
    suffix = match[4]
    if suffix is None:
        return (year, month, day)
    number = int(suffix) if suffix.isdigit() else roman_to_int(suffix)
    if number < 1:
        raise Refusal(f"tag '{tag}': the suffix _{suffix} must be 1 or more")
    return (year, month, day, number)


def check(source: str, name: str, tag: str | None, epoch: int | None) -> str:
    want = expected_release(tag) if tag is not None else None
    raw = read_version(source, name)
    version = Version(raw)
    if epoch is not None and version.epoch != epoch:
        hint = f" (for tag '{tag}': {epoch}!{'.'.join(map(str, want))})" if want else ""
        raise Refusal(
            f"{name} says __version__ = '{raw}' (epoch {version.epoch}), "
            f"but integration builds need the epoch {epoch}{hint}. Set __version__ in "
            "dace/version.py of the tagged commit and tag again; the workflow never rewrites it."
        )
    if want is not None:
        if version.release != want:
            want_text = ".".join(map(str, want))
            prefix = f"{version.epoch}!" if version.epoch else ""
            raise Refusal(
                f"{name} says __version__ = '{raw}' ({version}), but tag '{tag}' needs the "
                f"version {prefix}{want_text} (release segment {want_text}). Set __version__ in "
                "dace/version.py of the tagged commit and tag again; the workflow never rewrites it."
            )
    return str(version)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version_file", help="path of dace/version.py, or - for standard input")
    parser.add_argument("--tag", help="integration tag whose date the version must carry")
    parser.add_argument("--epoch", type=int, help="the epoch the version must have (DaCe: 43)")
    args = parser.parse_args(argv)
    name = "dace/version.py" if args.version_file == "-" else args.version_file
    try:
        if args.version_file == "-":
            source = sys.stdin.read()
        else:
            with open(args.version_file, encoding="utf-8") as f:
                source = f.read()
        print(check(source, name, args.tag, args.epoch))
        return 0
    except (Refusal, OSError, UnicodeDecodeError) as error:
        if os.environ.get("GITHUB_ACTIONS") == "true":
            print(f"::error title=DaCe version::{error}", file=sys.stderr)
        else:
            print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
