"""The one shape of a `glassbox` subcommand, and what the commands share.

Each command module has `add_parser(sub)`, which registers its subparser(s) on the top-level
parser's subparsers and sets `func` (a `Run`) on each with `set_defaults`, and `run(args, out,
err) -> int`, which writes only to the streams it is given and returns the exit status.
`core.cli.main` parses, then calls `args.func(args, out, err)`. Errors reach the user through
`fail` (one prefix, `glassbox: error:`); the library raises typed errors and only the CLI turns
them into messages.

The commands that run a model share `add_model_options`, `sampling`, `load_settings` and
`start_engine` from here, so a model starts the same way, with the load settings the user saved
in the app, whichever command starts it.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO, cast

import apsw

from core.defaults import DEFAULT_N_CTX
from core.engine.types import SamplingSettings
from core.errors import GlassboxError

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.models.load_settings import LoadSettings

Run = Callable[[argparse.Namespace, TextIO, TextIO], int]

PREFIX = "glassbox"
_DEFAULTS = SamplingSettings()


def fail(err: TextIO, message: object) -> int:
    """Report an error the one way (`glassbox: error: ...` on `err`); returns the status 1."""
    err.write(f"{PREFIX}: error: {message}\n")
    return 1


def warn(err: TextIO, message: object) -> None:
    """A warning that does not stop the command."""
    err.write(f"{PREFIX}: warning: {message}\n")


def print_json(out: TextIO, data: Any, indent: int | None = 2) -> None:
    """`--json` output: one JSON document, UTF-8 left readable."""
    out.write(json.dumps(data, ensure_ascii=False, indent=indent) + "\n")


def command(run: Run) -> Run:
    """Make `run` report failures the one way, whoever calls it: a GlassboxError or a damaged
    database (damage quick_check could not see) becomes `fail`, Ctrl+C the status 130."""
    @functools.wraps(run)
    def reporting(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        try:
            return run(args, out, err)
        except GlassboxError as exc:
            return fail(err, exc)
        except (apsw.CorruptError, apsw.NotADBError) as exc:
            from core.cli_doctor import damaged_message

            return fail(err, damaged_message(exc))
        except KeyboardInterrupt:
            return 130

    return reporting


# -- running a model ---------------------------------------------------------------------------
def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="MODEL", help="GGUF file or library model name to run "
                   "(default: the library's default, else the bundled SmolLM2)")
    p.add_argument("--max-tokens", type=int, default=_DEFAULTS.max_tokens)
    p.add_argument("--temperature", type=float, default=_DEFAULTS.temperature)
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="-1 for a random seed")
    p.add_argument("--ctx", type=int, default=None, help="context window in tokens (default: "
                   f"the app's load settings, else {DEFAULT_N_CTX})")
    p.add_argument("--system", default="", help="system prompt")
    p.add_argument("--engine", metavar="NAME", default=None, help="run on a saved remote "
                   "engine (`glassbox engines list`); --model then names the server's model")


def sampling(args: argparse.Namespace) -> SamplingSettings:
    """The sampling options of `add_model_options`."""
    if args.max_tokens < 1:
        raise GlassboxError("--max-tokens must be at least 1.")
    return SamplingSettings(
        temperature=args.temperature, seed=args.seed, max_tokens=args.max_tokens
    )


def load_settings(args: argparse.Namespace) -> LoadSettings:
    """The load settings chosen in the app's Models tab; --ctx, when given, wins."""
    from core.settings import read_saved

    settings = read_saved().load
    if args.ctx is not None:
        if args.ctx < 1:
            raise GlassboxError("--ctx must be at least 1.")
        settings = replace(settings, n_ctx=args.ctx)
    return settings


def start_engine(args: argparse.Namespace) -> EngineClient:
    """An engine with `args.model` loaded with `load_settings(args)`; the caller closes it.
    With `--engine NAME`, the saved remote engine instead (its model, or `--model`)."""
    from core import api

    if getattr(args, "engine", None):
        from core.remote_engines import EngineRegistry

        remote = EngineRegistry().engine(args.engine, args.model, n_ctx=args.ctx)
        remote.start()
        # RemoteEngine has EngineClient's interface for everything these commands call
        # (generate, cancel, model, count_tokens, render_prompt, close; checked by
        # tests/engines/test_interface.py); the cast spares each caller a union type.
        return cast("EngineClient", remote)

    settings = load_settings(args)
    engine = api.EngineClient()  # no process until the load
    try:
        api.load_model(engine, args.model, settings)
    except BaseException:
        engine.close()
        raise
    return engine
