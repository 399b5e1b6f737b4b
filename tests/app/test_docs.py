"""Every command and option of `keystage` is documented in docs/cli.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from keystage.cli import build_parser

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def _walk(parser: argparse.ArgumentParser, prefix: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{prefix} {name}")
        else:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    yield prefix, opt


def test_every_command_is_documented():
    commands = {p for p, _ in _walk(build_parser(), "keystage")}
    for command in commands:
        assert f"`{command}" in DOC, f"{command} is not in docs/cli.md"


def test_every_option_is_documented():
    for command, option in _walk(build_parser(), "keystage"):
        assert option in DOC, f"{command} {option} is not in docs/cli.md"
