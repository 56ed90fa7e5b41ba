"""`glassbox ask` and `glassbox chat`: the command line over the same core API as the app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from core import (
    cli_doctor,
    cli_engines,
    cli_eval,
    cli_finetune,
    cli_inspect,
    cli_learn,
    cli_models,
    cli_prompts,
    cli_serve,
    cli_tools,
)
from core.cli_shape import (
    add_model_options,
    command,
    fail,
    load_settings,
    print_json,
    sampling,
    start_engine,
)
from core.config import database_path
from core.engine.types import (
    ChatMessage,
    DoneEvent,
    SamplingSettings,
    TokenEvent,
    lora_from_spec,
)
from core.errors import GlassboxError
from core.rag import cli as rag_cli

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.rag.grounding import Grounding
    from core.rag.library import DocumentLibrary

# Every command module registers its parsers the same way (see core.cli_shape).
_COMMAND_MODULES = (cli_prompts, cli_inspect, rag_cli, cli_models, cli_doctor, cli_engines,
                    cli_serve, cli_finetune, cli_eval, cli_learn)


def add_parser(sub: Any) -> None:
    """`ask` and `chat` (whose `list|export|import` come from core.cli_prompts)."""
    ask = sub.add_parser("ask", help="answer one question and exit")
    ask.add_argument("question", help="the question; '-' reads it from standard input")
    ask.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ask.add_argument("--collection", action="append", metavar="NAME", default=[],
                     help="answer from this document collection, with citations (repeatable)")
    ask.add_argument("--top", type=int, default=6, metavar="K",
                     help="passages to retrieve for --collection (default 6)")
    add_model_options(ask)
    add_lora_option(ask)
    cli_tools.add_tool_options(ask)
    ask.set_defaults(func=run_ask)
    chat = sub.add_parser("chat", help="an interactive chat, saved like the app's chats; "
                          "`chat list|export|import` manage saved chats")
    add_model_options(chat)
    add_lora_option(chat)
    chat.set_defaults(func=run_chat)
    cli_prompts.add_chat_subcommands(chat)


def add_lora_option(p: argparse.ArgumentParser) -> None:
    """`--lora PATH[:SCALE]`, repeatable (ask, chat, serve)."""
    p.add_argument("--lora", action="append", default=[], metavar="PATH[:SCALE]",
                   type=_lora_spec, help="apply this GGUF LoRA adapter over the model, at "
                   "SCALE from 0 to 2 (default 1; repeatable)")
    from core.cli_steer import add_control_vector_option  # steering, beside the adapters

    add_control_vector_option(p)


def _lora_spec(value: str) -> tuple[str, float]:
    try:
        return lora_from_spec(value)
    except GlassboxError as exc:  # argparse shows it as a usage error
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _start_engine(args: argparse.Namespace) -> EngineClient:
    """`start_engine`, with the --lora adapters loaded over the model when there are any."""
    if not args.lora:
        from core.cli_steer import with_control_vector

        return with_control_vector(start_engine(args), args)
    if args.engine:
        raise GlassboxError("--lora needs a local model: a remote engine cannot load "
                            "adapter files.")
    from core import api
    from core.engine.loading import load_model

    engine = api.EngineClient()
    try:
        load_model(engine, api.resolve_model(args.model), load_settings(args), loras=args.lora)
    except BaseException:
        engine.close()
        raise
    from core.cli_steer import with_control_vector

    return with_control_vector(engine, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassbox",
        description="Chat with local GGUF models. Run `python main.py` for the desktop app.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    for module in _COMMAND_MODULES:
        module.add_parser(sub)
    return parser


def _opens_database(args: argparse.Namespace) -> bool:
    return args.command in ("chat", "compare", "presets", "docs") or (
        args.command == "ask" and bool(args.collection))


def _stream(events: Iterator[object], out: TextIO, echo: bool) -> DoneEvent | None:
    """Print tokens as they come; Ctrl+C stops the reply, not the program."""
    done = None
    try:
        for event in events:
            if isinstance(event, TokenEvent) and echo:
                out.write(event.text)
                out.flush()
            elif isinstance(event, DoneEvent):
                done = event
    except KeyboardInterrupt:
        if echo:
            out.write(" [stopped]")
    if echo:
        out.write("\n")
    return done


@command
def run_ask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox ask`."""
    question = sys.stdin.read() if args.question == "-" else args.question
    messages = [ChatMessage("system", args.system)] if args.system.strip() else []
    messages.append(ChatMessage("user", question))
    chosen = sampling(args)
    if cli_tools.wants_tools(args):  # the agent loop (core/cli_tools.py)
        with _open_collections(args) as tool_library:
            return cli_tools.run_with_tools(args, messages, chosen, out, err,
                                            lambda: _start_engine(args), tool_library)
    grounding = None
    with _open_collections(args) as library, _start_engine(args) as engine:
        if library is not None:
            grounding = _ground(args, messages, engine, library, chosen)
            messages = list(grounding.messages)
        done = _stream(engine.generate(messages, chosen), out, echo=not args.json)
    if done is None:
        return 130
    if grounding is not None:
        grounding = grounding.with_answer(done.text)
    if args.json:
        stats = done.stats
        result: dict[str, object] = {
            "text": done.text,
            "prompt_tokens": stats.prompt_tokens,
            "completion_tokens": stats.completion_tokens,
            "ttft_s": round(stats.ttft_s, 4),
            "tokens_per_s": round(stats.tokens_per_s, 2),
        }
        if grounding is not None:
            result["citations"] = grounding.citations(done.text)
            result["invalid_citations"] = list(grounding.invalid_citations)
            result["backed"] = grounding.backed
        print_json(out, result, indent=None)
    elif grounding is not None:
        _print_sources(grounding, done.text, out)
    return 0


@contextmanager
def _open_collections(args: argparse.Namespace) -> Iterator[DocumentLibrary | None]:
    """The document library when --collection is given; unknown names fail before the model
    loads, so a typo costs no wait."""
    if not args.collection:
        yield None
        return
    from core.rag.library import DocumentLibrary

    if args.top < 1:
        raise GlassboxError("--top must be at least 1.")
    with DocumentLibrary() as library:
        for name in args.collection:
            library.collection(name)
        yield library


def _ground(args: argparse.Namespace, messages: list[ChatMessage], engine: EngineClient,
            library: DocumentLibrary, sampling: SamplingSettings) -> Grounding:
    from core.rag.grounding import ground, searcher

    assert engine.model is not None
    return ground(messages, args.collection, searcher(library), engine, engine.model.n_ctx,
                  sampling.max_tokens, top_k=args.top)


def _print_sources(grounding: Grounding, answer: str, out: TextIO) -> None:
    if not grounding.sources:
        out.write("(no passage in the collection matched the question)\n")
        return
    out.write("\nSources:\n")
    for citation, source in zip(grounding.citations(answer), grounding.sources, strict=True):
        mark = "*" if citation["cited"] else " "
        out.write(f" {mark}[{source.number}] {source.label}  ({source.path})\n")
    if grounding.invalid_citations:
        listed = ", ".join(f"[{n}]" for n in grounding.invalid_citations)
        out.write(f"! cites passages that do not exist: {listed} (only "
                  f"{grounding.passage_range()} were given)\n")
    if grounding.backed is False:
        out.write("! not backed by your documents: no sentence of the answer matches a "
                  "passage\n")


@command
def run_chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox chat`: the interactive loop (reading standard input)."""
    from core.chat import ChatSession
    from core.store import ChatStore

    chosen = sampling(args)
    store = ChatStore(database_path())
    try:
        with _start_engine(args) as engine:
            session = ChatSession(store, engine)
            chat = store.create_chat(system_prompt=args.system)
            out.write(f"Chatting with {engine.model.name if engine.model else 'the model'}. "
                      "Ctrl+C stops a reply; /exit or Ctrl+D quits.\n")
            while True:
                out.write("you> ")
                out.flush()
                try:
                    line = input()
                except (EOFError, KeyboardInterrupt):
                    out.write("\n")
                    return 0
                if line.strip() in ("/exit", "/quit"):
                    return 0
                if not line.strip():
                    continue
                try:
                    out.write("assistant> ")
                    _stream(session.send(chat.id, line, chosen), out, echo=True)
                except GlassboxError as exc:
                    fail(err, exc)  # the chat goes on
    finally:
        store.close()


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Parse `argv` and run the command it names, writing to `out` and `err` (default: the
    process's standard output and error); returns the exit status."""
    args = build_parser().parse_args(argv)
    return _run(args, out or sys.stdout, err or sys.stderr)


@command
def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if _opens_database(args):
        cli_doctor.open_checks(err=err)
    return int(args.func(args, out, err))


if __name__ == "__main__":
    sys.exit(main())
