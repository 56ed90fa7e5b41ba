"""`glassbox learn ...`: the foundations lab on the command line.

A minimal group on this branch (the boundary playground adds its own subcommand beside it):
each lab module has `add_parser(labs)`, listed in `_SUBCOMMANDS`.
"""

from __future__ import annotations

from typing import Any

from core import cli_learn_tiny

_SUBCOMMANDS = (cli_learn_tiny.add_parser,)


def add_parser(sub: Any) -> None:
    learn = sub.add_parser("learn", help="the foundations lab: watch small networks learn")
    labs = learn.add_subparsers(dest="lab", required=True)
    for add in _SUBCOMMANDS:
        add(labs)
