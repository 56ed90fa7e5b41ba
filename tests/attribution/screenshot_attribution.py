"""Run by hand (not a test): the README's screenshot of an attribution of a grounded answer.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen .venv/bin/python \
        tests/attribution/screenshot_attribution.py [OUT.png]

Indexes the sample guide (resources/sample_docs) into a throw-away GLASSBOX_HOME, asks the
bundled model a question grounded in it, attributes the answer by passage, and saves the
Attribution panel to resources/screenshots/attribution.png (or OUT.png).
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What does a tokenizer do with rare words?"


def main(out: Path, saved: Path | None = None) -> None:
    """`saved`: a pickle of an earlier run's (grounding, answer, result): only redraws."""
    home = Path(tempfile.mkdtemp(prefix="glassbox-shot-"))
    os.environ["GLASSBOX_HOME"] = str(home)
    if saved is not None and saved.is_file():
        grounding, answer, result = pickle.loads(saved.read_bytes())
    else:
        grounding, answer, result = _compute(home)
        if saved is not None:
            saved.write_bytes(pickle.dumps((grounding, answer, result)))
    _draw(out, grounding, answer, result)


def _compute(home: Path) -> tuple[Any, str, Any]:
    from core.engine.attribution_types import AttributionResult
    from core.engine.client import EngineClient
    from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
    from core.models.bundled import default_chat_model
    from core.rag.grounding import ground, searcher
    from core.rag.library import DocumentLibrary
    from core.rag.passage_attribution import grounded_request
    from core.rag.sample import SAMPLE_COLLECTION, add_sample_collection

    library = DocumentLibrary(db_path=home / "glassbox.sqlite3")
    add_sample_collection(library)
    engine = EngineClient()
    try:
        engine.load(default_chat_model(), n_ctx=2048)
        grounding = ground([ChatMessage("user", QUESTION)], [SAMPLE_COLLECTION],
                           searcher(library), engine, 2048, 80, top_k=3)
        done = [e for e in engine.generate(list(grounding.messages), SamplingSettings(
            temperature=0.0, max_tokens=80)) if isinstance(e, DoneEvent)][-1]
        answer = done.text
        result = None
        for event in engine.attribute(grounded_request(grounding, answer)):
            if isinstance(event, AttributionResult):
                result = event
        assert result is not None
    finally:
        engine.close()
        library.close()
    return grounding, answer, result


def _draw(out: Path, grounding: Any, answer: str, result: Any) -> None:
    from PySide6.QtWidgets import QApplication

    from core.rag.passage_attribution import passage_spans
    from desktop.attribution_controller import driver_lines
    from ui.learn.attribution_panel import AttributionPanel

    app = QApplication.instance() or QApplication(sys.argv)
    panel = AttributionPanel()
    panel.set_request(QUESTION, answer, rendered=grounding.rendered,
                      spans=passage_spans(grounding))
    panel.show_estimate(result.estimate)
    panel.show_result(result, driver_lines(result, grounding))
    panel.resize(1280, 860)
    panel.show()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    panel.grab().save(str(out))
    for line in driver_lines(result, grounding):
        print(line)
    for unit in result.ranked():
        print(f"{unit.score:+.3f} [{unit.label}]")
    print(f"saved {out}")
    panel.close()
    panel.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         ROOT / "resources" / "screenshots" / "attribution.png",
         Path(sys.argv[2]) if len(sys.argv) > 2 else None)
