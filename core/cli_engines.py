"""`glassbox engines add|list|remove|test`: models that run on another machine.

`--engine NAME` on ask, chat and compare (core.cli_shape) then runs against a saved one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from core.cli_shape import command, fail, print_json, warn
from core.errors import GlassboxError


def add_parser(sub: Any) -> None:
    engines = sub.add_parser("engines", help="remote engines: OpenAI-compatible or Ollama "
                             "servers on other machines")
    actions = engines.add_subparsers(dest="engines_command", required=True)
    add = actions.add_parser("add", help="save a remote engine (the key goes to the keyring)")
    add.add_argument("name")
    add.add_argument("--url", required=True, help="e.g. http://gpu-box:8080 (an OpenAI-"
                     "compatible server; /v1 is added) or http://host:11434 (Ollama)")
    add.add_argument("--kind", choices=("openai", "ollama"), default="openai")
    add.add_argument("--model", help="the server's model to use (default: the first listed)")
    add.add_argument("--ctx", type=int, default=None, help="the server's context window, if "
                     "known (for budgeting grounded prompts)")
    key = add.add_mutually_exclusive_group()
    key.add_argument("--api-key-env", metavar="VAR", help="read the key from this environment "
                     "variable each time (only its name is saved)")
    key.add_argument("--api-key-stdin", action="store_true", help="read the key from standard "
                     "input and keep it in the system keyring (or a 0600 file without one)")
    add.set_defaults(func=run_add)
    listing = actions.add_parser("list", help="the saved remote engines")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    remove = actions.add_parser("remove", help="forget a remote engine and its key")
    remove.add_argument("name")
    remove.set_defaults(func=run_remove)
    test = actions.add_parser("test", help="say what works: reachable, key, models, chat, "
                              "log-probabilities, tokenizer")
    test.add_argument("name")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=run_test)


def _registry() -> Any:
    from core.remote_engines import EngineRegistry

    return EngineRegistry()


@command
def run_add(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.secrets import keyring_works

    api_key = None
    if args.api_key_stdin:
        api_key = sys.stdin.readline().strip()
        if not api_key:
            return fail(err, "--api-key-stdin read an empty key.")
    if args.ctx is not None and args.ctx < 1:
        raise GlassboxError("--ctx must be at least 1.")
    config = _registry().add(args.name, args.url, args.kind, args.model, api_key=api_key,
                             api_key_env=args.api_key_env, n_ctx=args.ctx)
    out.write(f"Saved engine {config.name}: {config.kind} at {config.url}"
              f"{', model ' + config.model if config.model else ''} ({config.key.describe()}).\n")
    if config.key.source == "file" and not keyring_works():
        warn(err, "no system keyring service runs here, so the key is in a file only you can "
             "read under the data folder; --api-key-env VAR keeps it out of files entirely.")
    return 0


@command
def run_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engines = _registry().list()
    if args.json:
        print_json(out, [{"name": c.name, "kind": c.kind, "url": c.url, "model": c.model,
                          "key": c.key.source, "key_env": c.key.env, "n_ctx": c.n_ctx}
                         for c in engines])
        return 0
    if not engines:
        out.write("No remote engines. Add one: glassbox engines add NAME --url URL\n")
    for c in engines:
        out.write(f"{c.name}\t{c.kind}\t{c.url}\t{c.model or '(first listed)'}\t"
                  f"{c.key.describe()}\n")
    return 0


@command
def run_remove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _registry().remove(args.name)
    out.write(f"Removed engine {config.name} (and its saved key, if any).\n")
    return 0


@command
def run_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.remote_engines import check

    steps = check(_registry().engine(args.name))
    if args.json:
        print_json(out, [{"step": s.name, "ok": s.ok, "detail": s.detail} for s in steps])
    else:
        for s in steps:
            mark = {True: "ok  ", False: "FAIL", None: "--  "}[s.ok]
            out.write(f"{mark} {s.name:<10} {s.detail}\n")
    usable = all(s.ok for s in steps if s.name in ("reachable", "auth", "models", "chat"))
    return 0 if usable else 1
