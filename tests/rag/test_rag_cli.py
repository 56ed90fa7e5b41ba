"""`glassbox docs ...` through argparse, as core/cli.py will call it."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from core.rag import cli
from core.rag.embed import Embedder


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="glassbox")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    return cli.run(args, out, err), out.getvalue(), err.getvalue()


def test_docs_add_list_search_remove(embedder: Embedder, corpus: Path) -> None:
    code, out, err = _run("docs", "add", str(corpus), "--collection", "c")
    assert code == 0, err
    assert "4 indexed" in out and "[4/4]" in err

    code, out, _ = _run("docs", "list")
    assert code == 0 and "c: 4 documents (4 indexed" in out and "atlas.pdf" in out

    code, out, _ = _run("docs", "search", "capital of Freedonia", "--collection", "c",
                        "--top", "2", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2
    assert all(set(r) == {"path", "page", "heading", "score", "text"} for r in rows)
    assert rows[0]["path"].endswith("atlas.pdf") and rows[0]["page"] == 2
    assert "Zubrowka" in rows[0]["text"]
    guide = next(r for r in json.loads(_run("docs", "search", "attention positions",
                                             "--collection", "c", "--json")[1])
                 if r["path"].endswith("guide.md"))
    # Its two short sections are one passage (issue 17), under the heading of most of it.
    assert guide["page"] is None and guide["heading"] in ("Tokens", "Attention")
    assert "Attention lets each position" in guide["text"]

    code, out, _ = _run("docs", "remove", "--collection", "c", str(corpus / "notes.txt"))
    assert code == 0 and "Removed 1" in out
    code, out, _ = _run("docs", "remove", "--collection", "c")
    assert code == 0
    code, _, err = _run("docs", "search", "x", "--collection", "c")
    assert code == 1 and "no collection named 'c'" in err


def test_docs_add_reports_failed_files(embedder: Embedder, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    code, out, err = _run("docs", "add", str(bad), "--collection", "c")
    assert code == 1 and "1 failed" in out and "not valid UTF-8" in err


def test_docs_add_list_remove_as_json(embedder: Embedder, corpus: Path) -> None:
    code, out, _ = _run("docs", "add", str(corpus), "--collection", "c", "--quiet", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["collection"] == "c" and summary["indexed"] == 4
    assert set(summary) == {"collection", "indexed", "skipped", "failed", "chunks", "elapsed_s"}
    code, out, _ = _run("docs", "list", "--json")
    [listed] = json.loads(out)
    assert code == 0 and listed["name"] == "c" and listed["documents"] == 4
    assert {Path(f["path"]).name for f in listed["files"]} >= {"atlas.pdf", "notes.txt"}
    assert all(f["status"] == "indexed" and f["error"] is None for f in listed["files"])
    code, out, _ = _run("docs", "remove", "--collection", "c", str(corpus / "notes.txt"),
                        "--json")
    assert code == 0 and json.loads(out) == {"collection": "c",
                                             "path": str(corpus / "notes.txt"), "removed": 1}
    code, out, _ = _run("docs", "remove", "--collection", "c", "--json")
    assert code == 0 and json.loads(out) == {"collection": "c", "removed": "collection"}
    assert json.loads(_run("docs", "list", "--json")[1]) == []
