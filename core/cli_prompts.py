"""`glassbox compare` and `glassbox chat export|import|list`: the prompt lab on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.cli_shape import (
    add_model_options,
    command,
    load_settings,
    print_json,
    sampling,
    start_engine,
)
from core.config import database_path
from core.engine.loading import load_model
from core.engine.remote_paths import PREFIX, is_remote
from core.engine.types import SamplingSettings, lora_from_spec
from core.errors import GlassboxError
from core.prompts.compare import (
    MAX_VARIANTS,
    Loader,
    Variant,
    VariantDone,
    VariantFailed,
    VariantStarted,
    VariantToken,
    run_comparison,
)
from core.store.comparisons import VariantResult

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.engine.remote import RemoteEngine
    from core.store import ChatStore

def add_parser(sub: Any) -> None:
    """`compare` and `presets`; `chat list|export|import` hang under `chat` (see
    `add_chat_subcommands`)."""
    _add_compare_parser(sub)
    presets = sub.add_parser("presets", help="list the prompt presets (personas, few-shot "
                             "sets, styles)")
    presets.add_argument("--json", action="store_true", help="print JSON")
    presets.set_defaults(func=run_presets)


def _add_compare_parser(sub: Any) -> None:
    p = sub.add_parser("compare", help="run one prompt through 2-4 variants side by side",
                       description="Each --preset, --plain, --also-temperature, "
                       "--also-model and --also-lora adds a variant (2 to 4 in all).")
    p.add_argument("prompt", help="the user prompt; '-' reads it from standard input")
    p.add_argument("--preset", action="append", default=[], metavar="NAME",
                   help="a variant from this preset (see `glassbox presets`; repeatable)")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="fill a preset variable such as {topic} (repeatable)")
    p.add_argument("--plain", action="store_true",
                   help="a variant with no system prompt and no examples")
    p.add_argument("--also-temperature", type=float, action="append", default=[], metavar="T",
                   help="the first variant again at temperature T (repeatable)")
    p.add_argument("--also-model", action="append", default=[], metavar="MODEL",
                   help="the first variant again on another model (repeatable; "
                        "remote:ENGINE/MODEL for a saved remote engine's model)")
    p.add_argument("--also-lora", action="append", default=[], metavar="PATH[:SCALE]",
                   help="the first variant again with this GGUF LoRA adapter (scale 1 unless "
                   "given), e.g. a fine-tune beside its base")
    p.add_argument("--also-engine", action="append", default=[], metavar="ENGINE[/MODEL]",
                   help="the first variant again on a saved remote engine (`glassbox engines "
                        "add`), beside the local model (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--no-save", action="store_true",
                   help="do not keep the comparison in the app's list")
    add_model_options(p)
    p.set_defaults(func=run_compare)


def add_chat_subcommands(chat: argparse.ArgumentParser) -> None:
    sub = chat.add_subparsers(dest="chat_command", required=False,
                              metavar="{list,export,import}")
    listing = sub.add_parser("list", help="saved chats with their ids")
    listing.add_argument("--json", action="store_true", help="print JSON")
    export = sub.add_parser("export", help="write a chat as Markdown or JSON")
    export.add_argument("chat_id", type=int)
    export.add_argument("--format", choices=("md", "json"), default="json")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: print)")
    imp = sub.add_parser("import", help="add a chat from a JSON export")
    imp.add_argument("file", type=Path)
    imp.add_argument("--json", action="store_true", help="print JSON")
    for p in (listing, export, imp):
        p.set_defaults(func=run_chat_command)


@command
def run_presets(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox presets`."""
    store = _open_store()
    try:
        presets = store.presets.list()
        if args.json:
            print_json(out, [{"kind": p.kind, "name": p.name, "description": p.description,
                              "variables": list(p.variables())} for p in presets])
            return 0
        for preset in presets:
            variables = " ".join("{" + v + "}" for v in preset.variables())
            out.write(f"{preset.kind:9} {preset.name}  {variables}".rstrip() + "\n")
            if preset.description:
                out.write(f"          {preset.description}\n")
    finally:
        store.close()
    return 0


@command
def run_chat_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox chat list|export|import`."""
    from core.store.export import (
        chat_to_json,
        chat_to_markdown,
        import_chat,
        read_export,
        write_text,
    )

    store = _open_store()
    try:
        if args.chat_command == "list":
            chats = store.list_chats()
            if args.json:
                print_json(out, [{"id": c.id, "title": c.title} for c in chats])
                return 0
            for chat in chats:
                out.write(f"{chat.id:5}  {chat.title}\n")
            return 0
        if args.chat_command == "import":
            chat = import_chat(store, read_export(args.file, "glassbox-chat"))
            if args.json:
                print_json(out, {"id": chat.id, "title": chat.title})
            else:
                out.write(f"Imported “{chat.title}” as chat {chat.id}.\n")
            return 0
        if args.format == "json":
            text = json.dumps(chat_to_json(store, args.chat_id), ensure_ascii=False, indent=2)
        else:
            text = chat_to_markdown(store.get_chat(args.chat_id), store.messages(args.chat_id))
        if args.output is None:
            out.write(text if text.endswith("\n") else text + "\n")
        else:
            write_text(args.output, text if text.endswith("\n") else text + "\n")
        return 0
    finally:
        store.close()


def _open_store() -> ChatStore:
    from core.store import ChatStore

    store = ChatStore(database_path())
    store.presets.seed()
    return store


def build_variants(args: argparse.Namespace, store: ChatStore,
                   sampling: SamplingSettings) -> list[Variant]:
    """The variants the options ask for, in the order given on the command line."""
    from core.models.registry import ModelRegistry

    values = dict(_pair(v) for v in args.var)
    variants = [Variant.from_preset(store.presets.get(name), values, sampling)
                for name in args.preset]
    if args.plain or not variants:
        variants.append(Variant("Plain", sampling=sampling))
    base = variants[0]
    for t in args.also_temperature:
        variants.append(replace(base, label=f"{base.label} · T={t:g}",
                                sampling=replace(base.sampling, temperature=t)))
    for model in args.also_model:
        path = model if is_remote(model) else str(ModelRegistry().resolve(model))
        variants.append(replace(base, label=f"{base.label} · {_model_label(path)}",
                                model_path=path))
    for spec in args.also_lora:
        lora = lora_from_spec(spec)
        variants.append(replace(base, label=f"{base.label} · {Path(lora[0]).stem} ×{lora[1]:g}",
                                loras=(*base.loras, lora)))
    for name in args.also_engine:
        path = name if is_remote(name) else PREFIX + name
        variants.append(replace(base, label=f"{base.label} · {_model_label(path)}",
                                model_path=path))
    if len(variants) < 2:
        raise GlassboxError("A comparison needs at least two variants: add --plain, another "
                            "--preset, --also-temperature T, --also-model MODEL or "
                            "--also-lora ADAPTER.")
    if len(variants) > MAX_VARIANTS:
        raise GlassboxError(f"A comparison takes at most {MAX_VARIANTS} variants; "
                            f"{len(variants)} were asked for.")
    return variants


def _model_label(path: str) -> str:
    return path[len(PREFIX):] if is_remote(path) else Path(path).stem


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise GlassboxError(f"--var takes NAME=VALUE, e.g. --var topic=attention (got {text!r}).")
    return name.strip(), value


@command
def run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox compare`; a variant's own model loads with the same load settings as the
    first."""
    chosen = sampling(args)
    settings = load_settings(args)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    store = _open_store()
    try:
        variants = build_variants(args, store, chosen)
        from core.remote_engines import EngineRegistry  # HTTP clients: only when comparing

        with start_engine(args) as engine:
            results = _stream(engine, prompt, variants, out, echo=not args.json,
                              load=lambda path, loras: load_model(engine, path, settings,
                                                                  loras),
                              open_remote=EngineRegistry().open)
        saved = None if args.no_save else store.comparisons.save(prompt, [
            VariantResult(v, r["text"], r["status"], r.get("stats"))
            for v, r in zip(variants, results, strict=True)])
    finally:
        store.close()
    if args.json:
        print_json(out, {"prompt": prompt,
                         "comparison_id": saved.id if saved else None,
                         "variants": [_json_row(v, r) for v, r in
                                      zip(variants, results, strict=True)]}, indent=None)
    return 0 if all(r["status"] != "failed" for r in results) else 1


def _stream(engine: EngineClient, prompt: str, variants: list[Variant], out: TextIO,
            echo: bool, load: Loader,
            open_remote: Callable[[str], RemoteEngine]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{"text": "", "status": "interrupted"} for _ in variants]
    try:
        for event in run_comparison(engine, prompt, variants, load=load,
                                    open_remote=open_remote):
            if isinstance(event, VariantStarted) and echo:
                out.write(f"\n== {variants[event.index].label} ({event.model_name}) ==\n")
            elif isinstance(event, VariantToken) and echo:
                out.write(event.text)
                out.flush()
            elif isinstance(event, VariantDone):
                s = event.stats
                results[event.index] = {"text": event.text, "status": "complete"
                                        if event.finish_reason != "cancelled" else "interrupted",
                                        "stats": asdict(s)}
                if echo:
                    out.write(f"\n[{s.completion_tokens} tokens, {s.tokens_per_s:.1f} tokens/s, "
                              f"prompt {s.prompt_tokens} tokens]\n")
            elif isinstance(event, VariantFailed):
                results[event.index] = {"text": event.text, "status": "failed",
                                        "error": event.message}
                if echo:
                    out.write(f"\n[failed: {event.message}]\n")
    except KeyboardInterrupt:
        if echo:
            out.write(" [stopped]\n")
    return results


def _json_row(variant: Variant, result: dict[str, Any]) -> dict[str, Any]:
    stats = result.get("stats") or {}
    row: dict[str, Any] = {
        "label": variant.label, "system_prompt": variant.system_prompt,
        "examples": variant.example_count, "temperature": variant.sampling.temperature,
        "model_path": variant.model_path, "status": result["status"], "text": result["text"],
        "prompt_tokens": stats.get("prompt_tokens", 0),
        "completion_tokens": stats.get("completion_tokens", 0),
        "tokens_per_s": round(stats.get("tokens_per_s", 0.0), 2),
        "ttft_s": round(stats.get("ttft_s", 0.0), 4),
    }
    if "error" in result:
        row["error"] = result["error"]
    return row
