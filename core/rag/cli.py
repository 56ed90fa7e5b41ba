"""`glassbox docs ...`: collections of local documents from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

from core.cli_shape import command, print_json
from core.errors import GlassboxError
from core.rag.library import DocumentLibrary, IndexProgress, IndexSummary
from core.rag.summary_types import SummaryProgress


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `docs` and its subcommands on the top-level parser's subparsers."""
    docs = subparsers.add_parser("docs", help="collections of local documents to search and ask")
    docs.set_defaults(func=run)
    sub = docs.add_subparsers(dest="docs_command", required=True)
    add = sub.add_parser("add", help="add files or folders to a collection and index them")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--collection", required=True, metavar="NAME")
    add.add_argument("--quiet", action="store_true", help="no progress on standard error")
    listing = sub.add_parser("list", help="collections and their documents")
    remove = sub.add_parser("remove", help="remove a collection, or one path from it")
    remove.add_argument("path", nargs="?", metavar="PATH")
    remove.add_argument("--collection", required=True, metavar="NAME")
    search = sub.add_parser("search", help="find passages in a collection")
    search.add_argument("query")
    search.add_argument("--collection", required=True, metavar="NAME", action="append",
                        help="may be given more than once")
    search.add_argument("--top", type=int, default=5, metavar="K")
    search.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    sample = sub.add_parser("sample", help="add the Glassbox guide collection again and index it")
    sample.add_argument("--quiet", action="store_true", help="no progress on standard error")
    summarize = sub.add_parser(
        "summarize", help="have the chat model write a short summary of each document "
        "(for questions about the whole collection); run it again to go on after a stop")
    summarize.add_argument("--collection", required=True, metavar="NAME")
    summarize.add_argument("--model", metavar="NAME_OR_PATH",
                           help="the chat model that writes them (default: the library's)")
    summarize.add_argument("--max-tokens", type=int, default=80, metavar="N",
                           help="longest summary in tokens (default 80)")
    summarize.add_argument("--quiet", action="store_true", help="no progress on standard error")
    for p in (add, listing, remove, search, sample, summarize):
        p.add_argument("--json", action="store_true", help="print JSON")
    return docs


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out a parsed `docs` command; returns the exit status."""
    with DocumentLibrary() as library:
        return _COMMANDS[args.docs_command](library, args, out, err)


def _add(library: DocumentLibrary, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    library.add_paths(args.collection, args.paths)
    return _index(args.collection, lambda progress: library.index(
        args.collection, progress=progress), args, out, err)


def _sample(library: DocumentLibrary, args: argparse.Namespace, out: TextIO,
            err: TextIO) -> int:
    from core.rag.sample import SAMPLE_COLLECTION, add_sample_collection

    return _index(SAMPLE_COLLECTION, lambda progress: add_sample_collection(
        library, progress=progress), args, out, err)


def _index(name: str, run: Callable[[Callable[[IndexProgress], None]], IndexSummary],
           args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one indexing pass with progress on `err` and a summary line on `out`."""
    def show(event: IndexProgress) -> None:
        if args.quiet:
            return
        if event.stage == "failed":
            err.write(f"failed  {event.path}: {event.error}\n")
        elif event.stage in ("indexed", "skipped"):
            eta = f", about {event.eta_s:.0f} s left" if event.eta_s else ""
            err.write(f"[{event.files_done}/{event.files_total}] {event.stage} {event.path} "
                      f"({event.chunks_done} chunks{eta})\n")

    try:
        summary = run(show)
    except KeyboardInterrupt:
        err.write("stopped; run the same command again to go on\n")
        return 130
    if args.json:
        print_json(out, {"collection": name, "indexed": summary.indexed,
                         "skipped": summary.skipped, "failed": summary.failed,
                         "chunks": summary.chunks, "elapsed_s": round(summary.elapsed_s, 3)})
        return 1 if summary.failed else 0
    out.write(f"{name}: {summary.indexed} indexed, {summary.skipped} unchanged, "
              f"{summary.failed} failed, {summary.chunks} chunks in {summary.elapsed_s:.1f} s\n")
    return 1 if summary.failed else 0


def _list(library: DocumentLibrary, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    collections = library.list_collections()
    if args.json:
        print_json(out, [{"name": info.name, "documents": info.documents,
                          "indexed": info.indexed, "failed": info.failed,
                          "pending": info.pending, "chunks": info.chunks,
                          "files": _files_json(library, info.name)}
                         for info in collections])
        return 0
    if not collections:
        out.write("No collections yet. Add one with: glassbox docs add PATH --collection NAME\n")
    for info in collections:
        summaries = library.summaries(info.name)
        out.write(f"{info.name}: {info.documents} documents ({info.indexed} indexed, "
                  f"{info.failed} failed, {info.pending} pending), {info.chunks} chunks\n")
        for doc in library.documents(info.name):
            note = f": {doc.error}" if doc.error else ""
            out.write(f"  [{doc.status}] {doc.path} ({doc.chunks} chunks){note}\n")
            if doc.path in summaries:
                out.write(f"      {summaries[doc.path].summary}\n")
    return 0


def _files_json(library: DocumentLibrary, name: str) -> list[dict[str, Any]]:
    summaries = library.summaries(name)
    return [{"path": doc.path, "status": doc.status, "chunks": doc.chunks, "error": doc.error,
             "summary": summaries[doc.path].summary if doc.path in summaries else None}
            for doc in library.documents(name)]


def _summarize(library: DocumentLibrary, args: argparse.Namespace, out: TextIO,
               err: TextIO) -> int:
    """Write the collection's missing summaries with a chat model, progress on `err`."""
    from core import api

    if args.max_tokens < 8:
        raise GlassboxError("--max-tokens must be at least 8: a summary is a few sentences.")
    # An unknown collection or model fails before a model loads; with nothing to write,
    # none loads at all.
    collection = library.collection(args.collection)
    model_file = api.resolve_model(args.model)
    summarized = failed = total = 0
    last: SummaryProgress | None = None
    if library.documents_needing_summary(collection.name):
        with api.start_engine() as engine:
            api.load_model(engine, model_file)
            try:
                for event in library.summarize_events(args.collection, engine,
                                                      max_tokens=args.max_tokens):
                    last, total = event, event.total
                    summarized += event.stage == "summarized"
                    failed += event.stage == "failed"
                    if not args.quiet:
                        _show_summary(event, err)
            except KeyboardInterrupt:
                err.write("stopped; run the same command again to go on\n")
                return 130
    elif not args.quiet:
        err.write("every document has a summary of its current content\n")
    elapsed = last.elapsed_s if last else 0.0
    cancelled = last is not None and last.stage == "cancelled"
    if args.json:
        print_json(out, {"collection": args.collection, "model": model_file.name,
                         "summarized": summarized, "failed": failed, "total": total,
                         "cancelled": cancelled, "elapsed_s": round(elapsed, 3)})
    else:
        out.write(f"{args.collection}: {summarized} summarized, {failed} failed, of {total} "
                  f"needing one, in {elapsed:.1f} s ({model_file.name})\n")
    return 1 if failed else 0


def _show_summary(event: SummaryProgress, err: TextIO) -> None:
    if event.stage == "failed":
        err.write(f"failed  {event.path}: {event.error}\n")
    elif event.stage == "summarized":
        eta = f", about {event.eta_s:.0f} s left" if event.eta_s else ""
        err.write(f"[{event.done}/{event.total}] summarized {event.path}{eta}\n")


def _remove(library: DocumentLibrary, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.path is None:
        library.remove_collection(args.collection)
        if args.json:
            print_json(out, {"collection": args.collection, "removed": "collection"})
        else:
            out.write(f"Removed the collection {args.collection}.\n")
        return 0
    count = library.remove_path(args.collection, args.path)
    if args.json:
        print_json(out, {"collection": args.collection, "path": args.path, "removed": count})
    else:
        out.write(f"Removed {count} document(s) from {args.collection}.\n")
    return 0 if count else 1


def _search(library: DocumentLibrary, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.top < 1:
        raise GlassboxError("--top must be at least 1.")
    hits = library.search(args.query, args.collection, top_k=args.top, mode=args.mode)
    if args.json:
        rows = [{"path": h.path, "page": h.page, "heading": h.heading, "score": h.score,
                 "text": h.text} for h in hits]
        print_json(out, rows)
        return 0
    for hit in hits:
        where = f" p.{hit.page}" if hit.page is not None else ""
        heading = f" - {hit.heading}" if hit.heading else ""
        out.write(f"{hit.rank}. {hit.path}{where}{heading} (score {hit.score:.4f})\n")
        out.write(f"   {hit.text[:300]}\n")
    if not hits:
        out.write("No passages found.\n")
    return 0


_COMMANDS = {"add": _add, "list": _list, "remove": _remove, "sample": _sample,
             "search": _search, "summarize": _summarize}
