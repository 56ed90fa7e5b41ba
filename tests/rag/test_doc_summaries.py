"""Summaries of documents written by the real bundled chat model (issue 17 item 3): stored per
document version in real SQLite, resumed after a cancel, rewritten when a document changes,
shown in whole-collection answers, and run from `glassbox docs summarize`."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import apsw
import pytest

from core import api
from core.cli import main
from core.engine.client import EngineClient
from core.engine.types import ChatMessage, GenerationEvent, SamplingSettings
from core.errors import EngineCrashed, NoModelLoaded, PromptError
from core.rag import index_store
from core.rag.collection_questions import CollectionQuestion
from core.rag.grounding import ground, searcher
from core.rag.library import DocumentLibrary
from core.rag.summaries import clean_summary, summarize_events
from core.rag.summary_types import SUMMARY_STAGES, SummaryProgress

FILES = {
    "bees.md": "# Keeping bees\n\nHoney bees live in colonies of tens of thousands. A hive "
               "makes honey from the nectar of flowers.\n\n## Swarming\n\nIn spring a colony "
               "may swarm to found a new hive.",
    "tides.md": "# Tides\n\nTides rise and fall twice a day, pulled by the moon and the sun. "
                "Spring tides are the highest of the month.",
    "bread.txt": "Baking bread\n\nMix flour, water, salt and yeast; knead, let it rise for "
                 "an hour and bake at 220 degrees until the crust is brown.",
}
TOKENS = 32  # short replies keep the module fast; the default (80) is for people


@pytest.fixture(scope="module")
def writer(model_path: Path) -> Iterator[EngineClient]:
    """The bundled chat model, for this module only (the session engine would outlive it)."""
    client = EngineClient()
    client.load(model_path, n_ctx=2048)
    yield client
    client.close()


def _shelf(library: DocumentLibrary, folder: Path, names: Sequence[str] = tuple(FILES)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(FILES[name], encoding="utf-8")
    library.add_paths("shelf", [folder])
    assert library.index("shelf").failed == 0
    return folder


def _run(library: DocumentLibrary, engine: Any, cancel: Any = None) -> list[SummaryProgress]:
    return list(summarize_events(library, "shelf", engine, cancel, max_tokens=TOKENS))


def _stored(library: DocumentLibrary) -> dict[str, tuple[str, float]]:
    return {Path(p).name: (s.summary, s.made_at) for p, s in library.summaries("shelf").items()}


def test_each_document_gets_a_summary_once(library: DocumentLibrary, writer: EngineClient,
                                           tmp_path: Path) -> None:
    _shelf(library, tmp_path / "shelf", ["bees.md", "tides.md"])
    events = _run(library, writer)
    assert [e.stage for e in events] == ["started", "summarized", "summarized", "finished"]
    assert all(e.stage in SUMMARY_STAGES for e in events)
    assert events[0].total == 2 and events[-1].done == 2 and events[-1].eta_s == 0.0
    stored = library.summaries("shelf")
    assert sorted(Path(p).name for p in stored) == ["bees.md", "tides.md"]
    assert writer.model is not None
    for event in events[1:3]:
        summary = stored[cast(str, event.path)]
        assert summary.summary == event.summary and summary.summary.strip()
        assert summary.model == Path(writer.model.path).name
        assert len(summary.summary) <= 400 and "\n" not in summary.summary
    again = _run(library, writer)
    assert [(e.stage, e.total) for e in again] == [("started", 0), ("finished", 0)]


def test_a_changed_document_is_summarized_again_and_only_it(
        library: DocumentLibrary, writer: EngineClient, tmp_path: Path) -> None:
    folder = _shelf(library, tmp_path / "shelf", ["bees.md", "tides.md"])
    _run(library, writer)
    before = _stored(library)
    (folder / "tides.md").write_text("# Volcanoes\n\nA volcano erupts when magma rises "
                                     "through the crust. Lava flows downhill and cools into "
                                     "rock.", encoding="utf-8")
    os.utime(folder / "tides.md", (1, 1))  # a new time, whatever the clock's resolution
    assert library.index("shelf").indexed == 1
    assert set(_stored(library)) == {"bees.md"}  # the old summary is of other content
    events = _run(library, writer)
    assert [(e.stage, Path(e.path or "-").name) for e in events] == [
        ("started", "-"), ("summarized", "tides.md"), ("finished", "-")]
    after = _stored(library)
    assert after["bees.md"] == before["bees.md"]  # not rewritten
    assert after["tides.md"][1] > before["tides.md"][1]


def test_cancel_keeps_what_was_written_and_the_next_run_finishes(
        library: DocumentLibrary, writer: EngineClient, tmp_path: Path) -> None:
    _shelf(library, tmp_path / "shelf")
    cancel = threading.Event()
    events = []
    for event in summarize_events(library, "shelf", writer, cancel, max_tokens=TOKENS):
        events.append(event)
        if event.stage == "summarized":
            cancel.set()  # as the window's Cancel would, after the first document
    assert [e.stage for e in events] == ["started", "summarized", "cancelled"]
    assert set(_stored(library)) == {Path(cast(str, events[1].path)).name}
    rest = _run(library, writer)
    assert rest[0].total == 2 and [e.stage for e in rest][-1] == "finished"
    assert set(_stored(library)) == set(FILES)


class _StopsWhilst:
    """A cancel token set once the run is writing: the first check (before the document) is
    clear, the next (on the model's first token) is set."""

    def __init__(self) -> None:
        self.checks = 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks > 1


def test_cancel_stops_the_model_mid_reply_and_stores_nothing(
        library: DocumentLibrary, writer: EngineClient, tmp_path: Path) -> None:
    _shelf(library, tmp_path / "shelf", ["bees.md"])
    events = list(summarize_events(library, "shelf", writer, _StopsWhilst(), max_tokens=200))
    assert [e.stage for e in events] == ["started", "cancelled"]
    assert library.summaries("shelf") == {}
    assert [e.stage for e in _run(library, writer)][-1] == "finished"  # the engine still works


class _RefusesBees:
    """The real engine, except that a prompt about bees fails as a bad prompt does: the
    engine errors that do not end the engine cannot be made on purpose with a sound model."""

    def __init__(self, engine: EngineClient) -> None:
        self.engine = engine
        self.model = engine.model

    def generate(self, messages: Sequence[ChatMessage],
                 sampling: SamplingSettings) -> Iterator[GenerationEvent]:
        if "bees" in messages[-1].content:
            raise PromptError("The message is too long for the model's context window.")
        return self.engine.generate(messages, sampling)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def test_a_failed_document_is_reported_and_the_run_goes_on(
        library: DocumentLibrary, writer: EngineClient, tmp_path: Path) -> None:
    _shelf(library, tmp_path / "shelf", ["bees.md", "tides.md"])
    events = _run(library, _RefusesBees(writer))
    assert [(e.stage, Path(e.path or "-").name) for e in events] == [
        ("started", "-"), ("failed", "bees.md"), ("summarized", "tides.md"), ("finished", "-")]
    assert "context window" in (events[1].error or "")
    assert set(_stored(library)) == {"tides.md"}
    shelf_id = library.collection("shelf").id
    assert [d.path for d in library.store.documents_needing_summary(shelf_id)] == [
        events[1].path]  # tried again by the next run


def test_an_engine_crash_ends_the_run_and_keeps_the_summaries(
        library: DocumentLibrary, own_engine: EngineClient, tmp_path: Path) -> None:
    _shelf(library, tmp_path / "shelf", ["bees.md", "tides.md"])
    run = summarize_events(library, "shelf", own_engine, max_tokens=TOKENS)
    assert next(run).stage == "started" and next(run).stage == "summarized"
    assert own_engine.pid is not None
    os.kill(own_engine.pid, signal.SIGKILL)
    with pytest.raises(EngineCrashed, match="stopped while summarizing .*tides.md; the "
                                            "summary written before it is kept"):
        next(run)
    assert set(_stored(library)) == {"bees.md"}


def test_bad_collection_or_no_model_is_a_clear_error(library: DocumentLibrary,
                                                     writer: EngineClient,
                                                     tmp_path: Path) -> None:
    with pytest.raises(api.GlassboxError, match="no collection named 'nope'"):
        next(summarize_events(library, "nope", writer))
    with pytest.raises(api.GlassboxError, match="no collection named ''"):
        next(summarize_events(library, "", writer))
    _shelf(library, tmp_path / "shelf", ["bees.md"])
    with pytest.raises(NoModelLoaded, match="Load a chat model"):
        next(summarize_events(library, "shelf", EngineClient()))  # nothing loaded
    assert library.summaries("shelf") == {}


def test_the_overview_card_shows_the_summary(library: DocumentLibrary, writer: EngineClient,
                                             tmp_path: Path) -> None:
    _shelf(library, tmp_path / "shelf", ["bees.md", "tides.md"])
    plain = {Path(h.path).name: h.text for h in library.collection_overview(
        CollectionQuestion("summarize", None), "shelf")}
    assert all("Summary:" not in text and "Begins:" in text for text in plain.values())
    _run(library, writer)
    stored = _stored(library)
    hits = library.collection_overview(CollectionQuestion("summarize", None), "shelf")
    for hit in hits:
        name = Path(hit.path).name
        text = hit.text
        assert f"Summary: {stored[name][0]}" in text
        assert text.index("Summary:") < text.index("Begins:")
        assert text.count("\n") == plain[name].count("\n") + 1
    question = "Summarize each file in my collection"
    grounding = ground([ChatMessage("user", question)], ["shelf"], searcher(library), writer,
                       2048, 64)
    prompt = grounding.messages[-1].content
    assert "with their titles, sections, summaries and opening lines" in prompt
    assert all(f"Summary: {summary}" in prompt for summary, _ in stored.values())


def test_summaries_go_with_their_documents(library: DocumentLibrary, tmp_path: Path) -> None:
    folder = _shelf(library, tmp_path / "shelf", ["bees.md", "tides.md"])
    for document in library.documents("shelf"):  # what a run stores, without the model
        assert document.content_hash is not None
        assert library.store.set_summary(document.id, document.content_hash, "m.gguf", "S.")
    assert set(_stored(library)) == {"bees.md", "tides.md"}
    library.remove_path("shelf", folder / "bees.md")
    rows = library.store.conn.execute("SELECT count(*) FROM rag_summaries").fetchone()
    assert rows == (1,) and set(_stored(library)) == {"tides.md"}
    tides = library.documents("shelf")[0]
    library.remove_collection("shelf")
    assert library.store.conn.execute("SELECT count(*) FROM rag_summaries").fetchone() == (0,)
    assert not library.store.set_summary(tides.id, "x", "m.gguf", "S.")  # gone: not stored


def test_an_index_from_before_summaries_is_migrated(library: DocumentLibrary,
                                                    tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    with DocumentLibrary(db, embedder=library.embedder, chunker=library.chunker,
                         parse_time_limit_s=30) as old:
        _shelf(old, tmp_path / "shelf", ["bees.md"])
    conn = apsw.Connection(str(db))  # back to schema 2, as a Glassbox before summaries left it
    conn.execute("DROP TABLE rag_summaries")
    conn.execute("UPDATE rag_meta SET value = '2' WHERE key = 'rag_schema_version'")
    conn.close()
    assert len(index_store.SCHEMA) == 3
    with DocumentLibrary(db, embedder=library.embedder, chunker=library.chunker) as reopened:
        assert reopened.summaries("shelf") == {}
        shelf_id = reopened.collection("shelf").id
        assert [Path(d.path).name for d in
                reopened.store.documents_needing_summary(shelf_id)] == ["bees.md"]
        version = reopened.store.conn.execute(
            "SELECT value FROM rag_meta WHERE key = 'rag_schema_version'").fetchone()
        assert version == ("3",)


def test_clean_summary_drops_labels_and_cuts_at_a_sentence() -> None:
    assert clean_summary("  **Summary:**  A guide\nto bees.  ") == "A guide to bees."
    long = "This is a sentence about bees. " * 30
    cut = clean_summary(long)
    assert len(cut) <= 400 and cut.endswith("bees.")
    assert clean_summary("   ") == ""


class _CtrlCOnSecond:
    """The CLI's real engine, except that Ctrl+C comes while the model starts on the second
    document (KeyboardInterrupt, as Python raises it for SIGINT). A real process stopped with
    a real signal raced the model: on a busy machine all three short summaries could be done
    before the signal landed, and the test failed by the clock."""

    def __init__(self, engine: EngineClient) -> None:
        self.engine = engine
        self.calls = 0

    def generate(self, messages: Sequence[ChatMessage],
                 sampling: SamplingSettings) -> Iterator[GenerationEvent]:
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.engine.generate(messages, sampling)

    def __enter__(self) -> _CtrlCOnSecond:
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def test_docs_summarize_command(library: DocumentLibrary, model_path: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    _shelf(library, tmp_path / "shelf")
    real_start = api.start_engine
    with monkeypatch.context() as patch:
        patch.setattr(api, "start_engine", lambda: _CtrlCOnSecond(real_start()))
        err = io.StringIO()
        code = main(["docs", "summarize", "--collection", "shelf", "--model", str(model_path),
                     "--max-tokens", str(TOKENS)], io.StringIO(), err)
    err_text = err.getvalue()
    assert code == 130, err_text
    assert "stopped; run the same command again to go on" in err_text
    assert len(library.summaries("shelf")) == 1  # the first is kept
    out, err = io.StringIO(), io.StringIO()
    code = main(["docs", "summarize", "--collection", "shelf", "--model", str(model_path),
                 "--max-tokens", str(TOKENS)], out, err)
    assert code == 0, err.getvalue()
    assert "[1/2] summarized" in err.getvalue() and "[2/2] summarized" in err.getvalue()
    assert out.getvalue().startswith("shelf: 2 summarized, 0 failed, of 2")
    assert len(library.summaries("shelf")) == 3
    out = io.StringIO()
    assert main(["docs", "summarize", "--collection", "shelf", "--model", str(model_path),
                 "--json", "--quiet"], out, io.StringIO()) == 0
    report = json.loads(out.getvalue())
    assert report["summarized"] == 0 and report["total"] == 0 and report["cancelled"] is False
    assert report["model"] == model_path.name
    out = io.StringIO()
    assert main(["docs", "list", "--json"], out, io.StringIO()) == 0
    files = json.loads(out.getvalue())[0]["files"]
    stored = library.summaries("shelf")
    assert [f["summary"] for f in files] == [stored[f["path"]].summary for f in files]
    out = io.StringIO()
    assert main(["docs", "list"], out, io.StringIO()) == 0
    assert all(f"      {s.summary}\n" in out.getvalue() for s in stored.values())
    err = io.StringIO()
    assert main(["docs", "summarize", "--collection", "shelf", "--max-tokens", "2"],
                io.StringIO(), err) == 1
    assert "--max-tokens must be at least 8" in err.getvalue()
    err = io.StringIO()
    assert main(["docs", "summarize", "--collection", "nope"], io.StringIO(), err) == 1
    assert "no collection named 'nope'" in err.getvalue()
    err = io.StringIO()
    assert main(["docs", "summarize", "--collection", "shelf", "--model", "no-such-model"],
                io.StringIO(), err) == 1
    assert "No model named 'no-such-model'" in err.getvalue()
