"""SIGKILL the app while a collection indexes; the index must stay whole and resume."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import apsw
import pytest
from index_kill_driver import HashEmbedder
from killing import run_and_kill
from stress_level import record, trials

from core.rag.index_store import IndexStore
from core.rag.library import DocumentLibrary

DRIVER = Path(__file__).with_name("index_kill_driver.py")
_WORDS = ("lantern bridge river glass town harbour ledger engine model token vector chunk "
          "page heading index parse answer source citation window memory process").split()


def paragraph(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."


def write_file(path: Path, rng: random.Random) -> None:
    parts = [f"# {path.stem}\n"]
    for n in range(rng.randint(2, 5)):
        parts.append(f"## Part {n}\n\n{paragraph(rng, rng.randint(120, 260))}\n")
    path.write_text("\n".join(parts), encoding="utf-8")


def make_corpus(folder: Path, rng: random.Random, files: int = 10) -> None:
    folder.mkdir(parents=True)
    for n in range(files):
        write_file(folder / f"doc{n:03d}.md", rng)
    (folder / "broken.pdf").write_bytes(rng.randbytes(3000))  # always ends 'failed'


def mutate(folder: Path, rng: random.Random, trial: int) -> None:
    """Between trials: change a file or two and sometimes add one, so re-indexing (delete then
    insert of a document's chunks) is what gets killed as often as first indexing."""
    files = sorted(folder.glob("*.md"))
    for path in rng.sample(files, k=min(2, len(files))):
        with path.open("a", encoding="utf-8") as out:
            out.write(f"\n## Added {trial}\n\n{paragraph(rng, rng.randint(40, 200))}\n")
    if rng.random() < 0.3:
        write_file(folder / f"new{trial:04d}.md", rng)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_index_invariants(db: Path) -> dict[str, int]:
    """Whole documents only, one vector and one FTS row per chunk, nothing orphaned."""
    conn = apsw.Connection(str(db))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall()[0][0] == "ok"
    finally:
        conn.close()
    with IndexStore(db) as store:
        c = store.conn
        chunk_ids = {r[0] for r in c.execute("SELECT id FROM rag_chunks")}
        vector_ids = [r[0] for r in c.execute("SELECT chunk_id FROM rag_vectors")]
        fts_ids = [r[0] for r in c.execute("SELECT rowid FROM rag_fts")]
        assert len(vector_ids) == len(set(vector_ids)), "duplicate vectors"
        assert set(vector_ids) == chunk_ids, "vectors and chunks disagree (orphans or gaps)"
        assert sorted(fts_ids) == sorted(chunk_ids), "full-text rows and chunks disagree"
        bad = c.execute(
            "SELECT d.path, d.status, d.chunk_count, count(k.id), count(DISTINCT k.ordinal), "
            "coalesce(max(k.ordinal), -1) FROM rag_documents d "
            "LEFT JOIN rag_chunks k ON k.document_id = d.id GROUP BY d.id "
            "HAVING d.chunk_count != count(k.id) OR count(k.id) != count(DISTINCT k.ordinal) "
            "OR coalesce(max(k.ordinal), -1) != count(k.id) - 1 "
            "OR (d.status != 'indexed' AND count(k.id) > 0)").fetchall()
        assert not bad, f"half-stored documents: {bad}"
        statuses = dict(c.execute("SELECT status, count(*) FROM rag_documents GROUP BY status")
                        .fetchall())
    return {"chunks": len(chunk_ids), **{str(k): int(v) for k, v in statuses.items()}}


def indexed_now(db: Path) -> dict[str, str]:
    """Documents whose stored index matches the file on disk right now: path -> digest."""
    with IndexStore(db) as store:
        rows = store.conn.execute(
            "SELECT path, content_hash FROM rag_documents WHERE status = 'indexed'").fetchall()
    return {p: h for p, h in rows if Path(p).exists() and digest(Path(p)) == h}


def journal_entries(path: Path, start: int) -> list[tuple[str, str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()[start:] if path.exists() else []
    out = []
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] in ("indexed", "skipped", "failed"):
            out.append((parts[0], parts[1], parts[2]))
    return out


@pytest.mark.stress
def test_sigkill_while_indexing_keeps_the_index_whole(tmp_path: Path,
                                                      python_env: dict[str, str]) -> None:
    rng = random.Random(1123)
    db, folder, journal = tmp_path / "glassbox.db", tmp_path / "docs", tmp_path / "journal.txt"
    make_corpus(folder, rng)
    count = trials(short=8, full=1000)
    resumed = indexed_in_trials = 0
    for trial in range(count):
        if trial:
            mutate(folder, rng, trial)
        already = indexed_now(db) if db.exists() else {}
        start = len(journal.read_text(encoding="utf-8").splitlines()) if journal.exists() else 0
        run_and_kill(DRIVER, [str(db), str(folder), str(journal)], journal, python_env, rng,
                     max_delay_s=0.5, max_steps=6)
        check_index_invariants(db)
        for stage, file_digest, path in journal_entries(journal, start):
            if path in already and already[path] == file_digest:
                # indexed by an earlier (killed) run and unchanged since: it must be skipped
                assert stage == "skipped", f"{path} was indexed again after a kill"
                resumed += 1
            if stage == "indexed":
                indexed_in_trials += 1
        # a kill never loses a document that was indexed before it (its file is unchanged)
        after = indexed_now(db)
        lost = [path for path, file_digest in already.items() if after.get(path) != file_digest]
        assert not lost, f"indexed documents lost by a kill: {lost}"
    # The last run is not killed: it must finish the batch, re-embedding only what was left.
    before = indexed_now(db)
    with DocumentLibrary(db, embedder=HashEmbedder(),  # type: ignore[arg-type]
                         parse_time_limit_s=30) as library:
        summary = library.index("kill")
        docs = library.documents("kill")
    figures = check_index_invariants(db)
    assert summary.failed == 0  # broken.pdf failed in an earlier run and is not retried
    assert summary.skipped >= len(before)
    assert {d.path for d in docs if d.status == "indexed"} == {
        str(p) for p in folder.glob("*.md")}
    assert [d.status for d in docs if d.path.endswith("broken.pdf")] == ["failed"]
    assert resumed >= 1 and indexed_in_trials >= 1
    record("index_kill", {
        "trials": count, "sigkills": count, "documents": len(docs),
        "documents_indexed_before_a_kill": indexed_in_trials,
        "documents_resumed_without_reindexing": resumed, "chunks": figures["chunks"],
        "lost": 0, "duplicated": 0, "orphan_vectors": 0, "integrity_failures": 0,
    })
