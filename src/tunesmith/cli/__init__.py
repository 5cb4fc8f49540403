"""The `tunesmith` command: a thin layer over the library.

Each subcommand lives in its own module, ``tunesmith.cli.<name>``, which defines
``register(subparsers)``: it adds its parser and sets ``func`` to a function that takes
the parsed arguments and returns an exit code. Errors a user can cause are
``TunesmithError``s and print as one line with exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import TunesmithError

COMMANDS = ["inspect", "tokenize", "generate", "batch", "render", "prepare", "train", "export", "evaluate", "originality_index", "studio", "chords", "song"]
"""Subcommand modules, in the order ``tunesmith --help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other tunesmith error
    (``--help`` still shows the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tunesmith", description="AI music composition: tokenize, train, generate, render.")
    parser.add_argument("--version", action="version", version="tunesmith 0.1.0")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def error(message: str) -> int:
    """Print ``tunesmith: error: message`` on stderr; return exit code 2."""
    print(f"tunesmith: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TunesmithError as exc:
        return error(str(exc))
    except KeyboardInterrupt:
        return error("interrupted")
    except BrokenPipeError:  # `tunesmith tokenize x.mid | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
