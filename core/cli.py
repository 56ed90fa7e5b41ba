"""`glassbox ask` and `glassbox chat`: the command line over the same core API as the app."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

import apsw

from core import cli_doctor, cli_inspect
from core import cli_models as models_cli
from core import cli_prompts as prompts_cli
from core.config import database_path
from core.defaults import DEFAULT_N_CTX
from core.engine.client import EngineClient
from core.engine.loading import load_model
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings, TokenEvent
from core.errors import GlassboxError
from core.models.load_settings import LoadSettings
from core.models.registry import ModelRegistry
from core.rag import cli as rag_cli
from core.settings import read_saved

if TYPE_CHECKING:
    from core.rag.grounding import Grounding
    from core.rag.library import DocumentLibrary

_DEFAULTS = SamplingSettings()


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="MODEL", help="GGUF file or library model name to run "
                   "(default: the library's default, else the bundled SmolLM2)")
    p.add_argument("--max-tokens", type=int, default=_DEFAULTS.max_tokens)
    p.add_argument("--temperature", type=float, default=_DEFAULTS.temperature)
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="-1 for a random seed")
    p.add_argument("--ctx", type=int, default=None, help="context window in tokens (default: "
                   f"the app's load settings, else {DEFAULT_N_CTX})")
    p.add_argument("--system", default="", help="system prompt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassbox",
        description="Chat with local GGUF models. Run `python main.py` for the desktop app.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question and exit")
    ask.add_argument("question", help="the question; '-' reads it from standard input")
    ask.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ask.add_argument("--collection", action="append", metavar="NAME", default=[],
                     help="answer from this document collection, with citations (repeatable)")
    ask.add_argument("--top", type=int, default=6, metavar="K",
                     help="passages to retrieve for --collection (default 6)")
    _add_model_options(ask)
    chat = sub.add_parser("chat", help="an interactive chat, saved like the app's chats; "
                          "`chat list|export|import` manage saved chats")
    _add_model_options(chat)
    prompts_cli.add_chat_subcommands(chat)
    prompts_cli.add_compare_parser(sub, _add_model_options)
    prompts_cli.add_presets_parser(sub)
    cli_inspect.add_parser(sub, _add_model_options)
    rag_cli.add_parser(sub)
    models_cli.add_parser(sub)
    cli_doctor.add_parser(sub)
    return parser


def _opens_database(args: argparse.Namespace) -> bool:
    return args.command in ("chat", "compare", "presets", "docs") or (
        args.command == "ask" and bool(args.collection))


def _sampling(args: argparse.Namespace) -> SamplingSettings:
    if args.max_tokens < 1:
        raise GlassboxError("--max-tokens must be at least 1.")
    return SamplingSettings(
        temperature=args.temperature, seed=args.seed, max_tokens=args.max_tokens
    )


def _load_settings(args: argparse.Namespace) -> LoadSettings:
    """The load settings chosen in the app's Models tab; --ctx, when given, wins."""
    settings = read_saved().load
    if args.ctx is not None:
        if args.ctx < 1:
            raise GlassboxError("--ctx must be at least 1.")
        settings = replace(settings, n_ctx=args.ctx)
    return settings


def _start_engine(args: argparse.Namespace) -> EngineClient:
    path = ModelRegistry().resolve(args.model)
    settings = _load_settings(args)
    engine = EngineClient()
    try:
        load_model(engine, path, settings)
    except BaseException:
        engine.close()
        raise
    return engine


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


def _ask(args: argparse.Namespace) -> int:
    question = sys.stdin.read() if args.question == "-" else args.question
    messages = [ChatMessage("system", args.system)] if args.system.strip() else []
    messages.append(ChatMessage("user", question))
    sampling = _sampling(args)
    grounding = None
    with _open_collections(args) as library, _start_engine(args) as engine:
        if library is not None:
            grounding = _ground(args, messages, engine, library, sampling)
            messages = list(grounding.messages)
        done = _stream(engine.generate(messages, sampling), sys.stdout, echo=not args.json)
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
        print(json.dumps(result, ensure_ascii=False))
    elif grounding is not None:
        _print_sources(grounding, done.text)
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


def _print_sources(grounding: Grounding, answer: str) -> None:
    if not grounding.sources:
        print("(no passage in the collection matched the question)")
        return
    print("\nSources:")
    for citation, source in zip(grounding.citations(answer), grounding.sources, strict=True):
        mark = "*" if citation["cited"] else " "
        print(f" {mark}[{source.number}] {source.label}  ({source.path})")
    if grounding.invalid_citations:
        listed = ", ".join(f"[{n}]" for n in grounding.invalid_citations)
        print(f"! cites passages that do not exist: {listed} (only "
              f"{grounding.passage_range()} were given)")
    if grounding.backed is False:
        print("! not backed by your documents: no sentence of the answer matches a passage")


def _chat(args: argparse.Namespace) -> int:
    from core.chat import ChatSession
    from core.store import ChatStore

    sampling = _sampling(args)
    store = ChatStore(database_path())
    try:
        with _start_engine(args) as engine:
            session = ChatSession(store, engine)
            chat = store.create_chat(system_prompt=args.system)
            print(f"Chatting with {engine.model.name if engine.model else 'the model'}. "
                  "Ctrl+C stops a reply; /exit or Ctrl+D quits.")
            while True:
                try:
                    line = input("you> ")
                except (EOFError, KeyboardInterrupt):
                    print()
                    return 0
                if line.strip() in ("/exit", "/quit"):
                    return 0
                if not line.strip():
                    continue
                try:
                    sys.stdout.write("assistant> ")
                    _stream(session.send(chat.id, line, sampling), sys.stdout, echo=True)
                except GlassboxError as exc:
                    print(f"glassbox: {exc}", file=sys.stderr)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return cli_doctor.run(args)
        if _opens_database(args):
            cli_doctor.open_checks()
        if args.command == "docs":
            return rag_cli.run(args)
        if args.command == "models":
            return models_cli.run(args)
        if args.command == "inspect":
            with _start_engine(args) as engine:
                return cli_inspect.run(args, engine)
        if args.command == "compare":
            return prompts_cli.run_compare(args, _sampling(args), _start_engine,
                                           _load_settings(args))
        if args.command == "presets":
            return prompts_cli.run_presets()
        if args.command == "chat" and args.chat_command:
            return prompts_cli.run_chat_command(args)
        return _ask(args) if args.command == "ask" else _chat(args)
    except GlassboxError as exc:
        print(f"glassbox: error: {exc}", file=sys.stderr)
        return 1
    except (apsw.CorruptError, apsw.NotADBError) as exc:  # damage quick_check could not see
        print(f"glassbox: error: {cli_doctor.damaged_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())


