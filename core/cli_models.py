"""`glassbox models ...`: the model library from the command line (list, hub, pull, import,
scan)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any, TextIO

from core import cli_models_scan
from core.cli_shape import command, print_json
from core.defaults import DEFAULT_N_CTX
from core.errors import GlassboxError
from core.models.bundled import CHAT_MODEL_ID as BUNDLED_CHAT_ID
from core.models.bundled import DEMO_NOTE
from core.models.metadata import format_bytes, format_parameters


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `models` and its subcommands on the top-level parser's subparsers."""
    models = subparsers.add_parser("models", help="the model library: list, search, pull, import")
    models.set_defaults(func=run)
    sub = models.add_subparsers(dest="models_command", required=True)
    listing = sub.add_parser("list", help="installed models")
    search = sub.add_parser("search", help="search the hub for GGUF models (no query: a "
                                           "starter list of good small models)")
    search.add_argument("query", nargs="?", default="")
    search.add_argument("--limit", type=int, default=20)
    files = sub.add_parser("files", help="a hub repository's GGUF files, with the one that "
                                         "suits this machine marked")
    files.add_argument("repo", metavar="REPO")
    pull = sub.add_parser("pull", help="download a GGUF from the hub, verify it and add it "
                                       "(Ctrl+C pauses; run it again to resume)")
    pull.add_argument("repo", metavar="REPO")
    pull.add_argument("file", nargs="?", metavar="FILE",
                      help="file in the repository (default: the one recommended here)")
    pull.add_argument("--name", help="name in the library (default: from the file name)")
    pull.add_argument("--fresh", action="store_true",
                      help="throw away a paused download of this file and start over")
    pull.add_argument("--retries", type=int, default=3,
                      help="times to reconnect after a broken connection (default 3)")
    pull.add_argument("--quiet", action="store_true", help="no progress on standard error")
    imp = sub.add_parser("import", help="add a local GGUF file (copied into the data folder)")
    imp.add_argument("path", metavar="PATH")
    imp.add_argument("--in-place", action="store_true",
                     help="use the file where it is instead of copying it")
    imp.add_argument("--name", help="name in the library (default: from the file name)")
    info = sub.add_parser("info", help="a model's details and whether it fits this machine")
    info.add_argument("model", metavar="MODEL", help="a name from `models list`, or a path")
    info.add_argument("--ctx", type=int, default=None,
                      help="context size to estimate memory for (default: the app's load "
                      f"settings, else {DEFAULT_N_CTX})")
    remove = sub.add_parser("remove", help="take a model out of the library")
    remove.add_argument("model", metavar="MODEL")
    remove.add_argument("--delete-file", action="store_true",
                        help="also delete the file (only Glassbox's own copies and downloads)")
    default = sub.add_parser("default", help="the model used when none is named")
    default.add_argument("model", metavar="MODEL")
    hardware = sub.add_parser("hardware", help="memory, CPU threads and GPU backend here")
    cli_models_scan.add_parser(sub)
    for p in (listing, search, files, pull, imp, info, remove, default, hardware):
        p.add_argument("--json", action="store_true", help="print JSON")
    for p in (pull, imp):
        p.add_argument("--default", action="store_true", dest="make_default",
                       help="also make it the default model")
    return models


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out a parsed `models` command; returns the exit status."""
    return _COMMANDS[args.models_command](args, out, err)


def _json(out: TextIO, data: Any) -> None:
    print_json(out, data, indent=1)


def _table(out: TextIO, rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.adapters import AdapterLibrary
    from core.models.registry import ModelRegistry

    entries = ModelRegistry().models()
    adapters = AdapterLibrary().adapters()
    if args.json:
        _json(out, [{**e.to_dict(), "adapters": [asdict(a) for a in adapters
                                                  if a.belongs_to(e)]} for e in entries])
        return 0
    rows = [["", "NAME", "ARCH", "PARAMS", "QUANT", "SIZE", "CONTEXT", "LICENCE", "CHAT",
             "SOURCE", "NOTE"]]
    for e in entries:
        f = e.facts
        rows.append(["*" if e.is_default else "!" if e.missing else "", e.name, f.architecture,
                     format_parameters(f.parameter_count), f.quantization,
                     format_bytes(f.file_size), str(f.context_length or "?"), f.license or "?",
                     "yes" if f.has_chat_template else "no", e.source, e.note or ""])
        # Adapters indented under their base: the fine-tunes of this model.
        rows += [["!" if a.missing else "", f"  + {a.name}", "LoRA", "", "", "", "", "", "",
                  "adapter", a.path] for a in adapters if a.belongs_to(e)]
    orphans = [a for a in adapters if not any(a.belongs_to(e) for e in entries)]
    rows += [["!" if a.missing else "", f"  + {a.name}", "LoRA", "", "", "", "", "", "",
              "adapter", f"base not in the library: {a.base_path}"] for a in orphans]
    _table(out, rows)
    missing = any(e.missing for e in entries) or any(a.missing for a in adapters)
    out.write("* default" + ("   ! file missing" if missing else "") + "\n")
    default = next((e for e in entries if e.is_default), None)
    if default is not None and default.name == BUNDLED_CHAT_ID:
        _suggest(out, default.name)
    return 0


def _suggest(out: TextIO, name: str) -> None:
    """The default is the demo model: name the best starter model for this computer."""
    from core.models.starter import suggest_for_this_computer

    starter = suggest_for_this_computer()
    if starter is None:
        return
    out.write(f"\n{name} is a {DEMO_NOTE}: fast, but its answers are often wrong.\n"
              f"The best starter model for this computer is {starter.title} "
              f"({starter.approx_size}):\n"
              f"  glassbox models pull {starter.repo_id} {starter.filename}\n")


def _search(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.query:
        from core.models.starter import REVIEWED, STARTER_MODELS

        if args.json:
            _json(out, [m.to_dict() for m in STARTER_MODELS])
            return 0
        out.write(f"Good small models to start with (picked in {REVIEWED}; this list can go "
                  "stale: `glassbox models files REPO` shows what a repository has now):\n")
        rows = [["MODEL", "PARAMS", "SIZE", "LICENCE", "PULL WITH"]]
        rows += [[m.title, m.parameters, m.approx_size, m.license,
                  f"glassbox models pull {m.repo_id} {m.filename}"] for m in STARTER_MODELS]
        _table(out, rows)
        return 0
    from core.models.hub import search_models

    found = search_models(args.query, limit=args.limit)
    if args.json:
        _json(out, [m.to_dict() for m in found])
        return 0
    if not found:
        out.write(f"No GGUF repositories match {args.query!r}.\n")
        return 0
    rows = [["REPOSITORY", "DOWNLOADS", "LIKES", ""]]
    rows += [[m.repo_id, str(m.downloads or 0), str(m.likes or 0), "gated" if m.gated else ""]
             for m in found]
    _table(out, rows)
    return 0


def _files(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.hub import repo_files

    repo = repo_files(args.repo)
    if args.json:
        _json(out, repo.to_dict())
        return 0
    if not repo.files:
        out.write(f"{repo.repo_id} has no GGUF files.\n")
        return 0
    rows = [["", "FILE", "QUANT", "SIZE", ""]]
    for f in repo.files:
        note = f"part of {f.parts}" if f.parts > 1 else "vision projector" if f.is_projector \
            else ""
        rows.append(["*" if f.recommended else "", f.filename, f.quantization or "?",
                     format_bytes(f.size), note])
    _table(out, rows)
    if any(f.recommended for f in repo.files):
        out.write("* recommended for this machine's memory\n")
    else:
        out.write("None of these files is likely to fit this machine's free memory.\n")
    return 0


def _pull(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.download import discard_partial, download_events
    from core.models.hub import repo_files

    filename = args.file
    if filename is None:
        best = next((f for f in repo_files(args.repo).files if f.recommended), None)
        if best is None:
            raise GlassboxError(f"No file of {args.repo} is likely to fit this machine's "
                                "memory; name one (see `glassbox models files REPO`).")
        filename = best.filename
        err.write(f"Choosing {filename} (recommended for this machine).\n")
    if args.fresh:
        discard_partial(args.repo, filename)
    progress = _ProgressLine(err, quiet=args.quiet)
    model = None
    try:
        for event in download_events(args.repo, filename, retries=args.retries,
                                     name=args.name):
            progress.show(event)
            model = event.model or model
    except KeyboardInterrupt:
        progress.end()
        err.write("Paused: what arrived is kept. Run the same command to resume, or add "
                  "--fresh to start over.\n")
        return 130
    progress.end()
    if model is None:
        return 130
    if args.make_default:
        from core.models.registry import ModelRegistry

        model = ModelRegistry().set_default(model.name)
    if args.json:
        _json(out, model.to_dict())
    else:
        out.write(f"Added {model.name} ({format_bytes(model.facts.file_size)}, sha256 "
                  f"verified). Chat with it: glassbox ask --model {model.name} \"Hello\"\n")
    return 0


class _ProgressLine:
    """Download progress on standard error: one updating line on a terminal, events in logs."""

    def __init__(self, err: TextIO, quiet: bool) -> None:
        self._err, self._quiet = err, quiet
        self._tty = hasattr(err, "isatty") and err.isatty()
        self._open = False

    def show(self, event: Any) -> None:
        if self._quiet:
            return
        if event.stage in ("downloading", "verifying"):
            if not self._tty:
                return
            verb = "checking" if event.stage == "verifying" else "downloading"
            speed = f"  {format_bytes(event.speed_bps)}/s" if event.speed_bps else ""
            eta = f"  about {event.eta_s:.0f} s left" if event.eta_s is not None else ""
            pct = f"{100 * event.bytes_done / event.total:5.1f}%" if event.total else ""
            self._err.write(f"\r{verb} {event.filename}: {pct} {format_bytes(event.bytes_done)}"
                            f" of {format_bytes(event.total)}{speed}{eta}\x1b[K")
            self._err.flush()
            self._open = True
            return
        self.end()
        detail = f" ({event.message})" if event.message else ""
        self._err.write(f"{event.stage} {event.repo_id}/{event.filename}{detail}\n")

    def end(self) -> None:
        if self._open:
            self._err.write("\n")
            self._open = False


def _import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.registry import ModelRegistry

    registry = ModelRegistry()
    entry = registry.import_file(args.path, copy=not args.in_place, name=args.name)
    if args.make_default:
        entry = registry.set_default(entry.name)
    if args.json:
        _json(out, entry.to_dict())
    else:
        where = "used in place" if not entry.managed else "copied into the library"
        out.write(f"Added {entry.name} ({entry.facts.architecture}, "
                  f"{format_parameters(entry.facts.parameter_count)} parameters, "
                  f"{entry.facts.quantization}, {where}).\n")
    return 0


def _info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.hardware import check_fit, detect_hardware
    from core.models.metadata import read_facts
    from core.models.registry import ModelRegistry
    from core.settings import read_saved

    saved = read_saved().load  # the Models tab's context and KV type, as its fit box uses
    n_ctx = saved.n_ctx if args.ctx is None else args.ctx
    if n_ctx < 1:
        raise GlassboxError("--ctx must be at least 1.")
    registry = ModelRegistry()
    path = registry.resolve(args.model)
    entry = next((e for e in registry.models() if e.path == str(path)), None)
    facts = entry.facts if entry is not None and not entry.missing else read_facts(path)
    hw = detect_hardware()
    fit = check_fit(facts, n_ctx, hw, saved.kv_bytes_per_element)
    if args.json:
        _json(out, {"model": entry.to_dict() if entry else None, "path": str(path),
                    "facts": facts.to_dict(), "fit": fit.to_dict(), "hardware": hw.to_dict()})
        return 0
    lines = [
        ("name", entry.name if entry else "(not in the library)"), ("file", str(path)),
        ("architecture", facts.architecture),
        ("parameters", f"{format_parameters(facts.parameter_count)} "
                       f"({facts.parameter_count:,})"),
        ("quantization", facts.quantization), ("file size", format_bytes(facts.file_size)),
        ("context length", f"{facts.context_length or 'unknown'} tokens (trained)"),
        ("licence", facts.license or "not stated in the file"),
        ("chat template", "yes" if facts.has_chat_template else
         "no (a base model: it continues text rather than chatting)"),
    ]
    if entry is not None:
        lines.append(("source", entry.source + (f" from {entry.repo_id}" if entry.repo_id
                                                else "")))
        if entry.sha256:
            lines.append(("sha256", entry.sha256))
    lines.append(("fit", fit.message))
    if fit.context_warning:
        lines.append(("context", fit.context_warning))
    lines.append(("gpu layers", "all" if fit.gpu_layers == -1 else str(fit.gpu_layers)))
    width = max(len(k) for k, _ in lines)
    out.writelines(f"{k.ljust(width)}  {v}\n" for k, v in lines)
    return 0


def _remove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.registry import ModelRegistry

    entry = ModelRegistry().remove(args.model, delete_file=args.delete_file)
    if args.json:
        _json(out, entry.to_dict() | {"file_deleted": args.delete_file})
    elif args.delete_file:
        out.write(f"Removed {entry.name} and deleted {entry.path}.\n")
    else:
        out.write(f"Removed {entry.name} from the library; the file stays at {entry.path} "
                  "(add --delete-file to delete it).\n")
    return 0


def _default(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.registry import ModelRegistry

    entry = ModelRegistry().set_default(args.model)
    if args.json:
        _json(out, entry.to_dict())
    else:
        out.write(f"{entry.name} is now the default model.\n")
    return 0


def _hardware(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.hardware import detect_hardware

    hw = detect_hardware()
    if args.json:
        _json(out, hw.to_dict())
        return 0
    gpu = hw.gpu_backend if hw.gpu_offload else "none (CPU build of llama.cpp)"
    lines = [("RAM", f"{format_bytes(hw.ram_total)} total, "
                     f"{format_bytes(hw.ram_available)} available"),
             ("CPU threads", str(hw.cpu_threads)), ("GPU backend", gpu)]
    if hw.gpu_name:
        lines.append(("GPU", f"{hw.gpu_name}: {format_bytes(hw.vram_total)} VRAM, "
                             f"{format_bytes(hw.vram_free)} free"))
    elif hw.gpu_offload:
        lines.append(("VRAM", "shared with RAM" if hw.unified_memory else "unknown"))
    width = max(len(k) for k, _ in lines)
    out.writelines(f"{k.ljust(width)}  {v}\n" for k, v in lines)
    return 0


_COMMANDS = {"list": _list, "search": _search, "files": _files, "pull": _pull,
             "import": _import, "info": _info, "remove": _remove, "default": _default,
             "hardware": _hardware, "scan": cli_models_scan.run_scan}
