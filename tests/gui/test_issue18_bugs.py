"""The bugs of issue 18, each seen by a learner: every test here fails on the code before it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)
from pytestqt.qtbot import QtBot
from ui_audit import audit, clipped, elided_cells

from core.engine.introspect_types import Candidate, SurpriseView, TokenSurprise
from core.rag.grounding import Grounding, Source
from core.rag.sample import SAMPLE_COLLECTION
from ui.chat_view import ChatView
from ui.collections_button import CollectionsButton
from ui.compare_panel import ComparePanel
from ui.documents_panel import _EMPTY, DocumentsPanel
from ui.learn.learn_panel import LearnPanel
from ui.learn.surprise_panel import SurprisePanel
from ui.load_settings_view import LoadSettingsView
from ui.sources_panel import SourcesPanel, _WhereDelegate, elide_where
from ui.status_view import StatusView

PRESETS = ["Sentiment labels", "Step by step", "Pirate"]


def test_empty_collection_hint_is_shown_whole(qtbot: QtBot) -> None:
    panel = DocumentsPanel()
    qtbot.addWidget(panel)
    panel.resize(1100, 700)
    panel.show()
    panel.stack.setCurrentIndex(_EMPTY)
    QApplication.processEvents()
    label = panel.stack.currentWidget().findChild(QLabel)
    assert "Add folder" in label.text()
    # Cut off: the label was one line tall, its text two lines at its width.
    assert label.height() >= label.heightForWidth(label.width())


def _token(piece: str, token_id: int) -> TokenSurprise:
    return TokenSurprise(token_id, piece, -1.0, [Candidate(token_id, piece, 0.37, -1.0)])


def test_surprise_footer_says_the_first_token_is_scored_when_it_is(qtbot: QtBot) -> None:
    panel = SurprisePanel()
    qtbot.addWidget(panel)
    panel.set_text("Hello world")
    # Every token measured (a start-of-text token, or the chat, came before the first).
    panel.show_view(SurpriseView([_token("Hello", 1), _token(" world", 2)], 3.0))
    assert "no prediction" not in panel.legend.text()
    assert "first one too" in panel.legend.text()
    # The first token not measured: it is shown grey and the footer says why.
    panel.show_view(SurpriseView([_token(" world", 2)], 3.0))
    assert "no prediction" in panel.legend.text()


def test_compare_labels_follow_presets_and_starting_variants_differ(qtbot: QtBot) -> None:
    panel = ComparePanel()
    qtbot.addWidget(panel)
    # Before the presets are read, no column claims a preset it does not have.
    for column in panel.columns:
        spec = column.spec()
        assert spec["preset"] is not None or spec["label"].startswith("Plain"), spec
    panel.set_presets(PRESETS)
    specs = [c.spec() for c in panel.columns]
    assert specs[2]["preset"] == "Sentiment labels"  # chosen once the list arrived
    assert specs[2]["label"].startswith("Sentiment labels")
    for count in (2, 3, 4):  # any first n variants are n different set-ups
        panel.column_count.setValue(count)
        shown = [(s["preset"], s["temperature"]) for s in
                 (c.spec() for c in panel.visible_columns())]
        assert len(set(shown)) == count, shown
    # The label follows the preset chosen ...
    first = panel.columns[0]
    first.preset_combo.setCurrentIndex(first.preset_combo.findData("Pirate"))
    assert first.spec()["label"] == "Pirate · T=0.7"
    # ... until the user names the variant.
    first.label_edit.setText("Arr")
    first.preset_combo.setCurrentIndex(first.preset_combo.findData("Step by step"))
    assert first.spec()["label"] == "Arr"


def test_saved_comparisons_get_their_own_titles() -> None:
    from core.prompts.compare import comparison_title

    first = comparison_title("Is this phone good?", ["Plain · T=0.7", "Plain · T=1.3"])
    assert first == "Is this phone good? · Plain · T=0.7 vs Plain · T=1.3"
    second = comparison_title("Is this phone good?", ["Plain · T=0.7", "Plain · T=1.3"],
                              [first])
    assert second != first and second.endswith("(2)")
    other = comparison_title("Is this phone good?", ["Pirate · T=0.7", "Plain · T=0.7"],
                             [first, second])
    assert other not in (first, second)


def test_threads_wording(qtbot: QtBot) -> None:
    view = LoadSettingsView()
    qtbot.addWidget(view)
    assert "one a core" not in view.threads.specialValueText()
    assert "per CPU core" in view.threads.specialValueText()


def test_compare_with_only_where_it_does_something(qtbot: QtBot) -> None:
    panel = LearnPanel()
    qtbot.addWidget(panel)
    panel.show()
    for show, used in ((panel.show_tokenizer, True), (panel.show_next_token, False),
                       (panel.show_surprise, True), (panel.show_attention, False),
                       (panel.show_lens, False), (panel.show_anatomy, False)):
        show()
        assert panel.compare_box.isVisibleTo(panel) is used, show.__name__


def test_status_numbers_belong_to_the_chat_tab(qtbot: QtBot) -> None:
    status = StatusView()
    qtbot.addWidget(status)
    status.set_stats(80.0, 0.1, 120, 2048)
    status.set_chat_numbers_visible(False)
    assert not status.chat_numbers_shown()
    status.set_chat_numbers_visible(True)
    assert status.chat_numbers_shown()


def test_fit_warns_beyond_the_trained_context(qtbot: QtBot) -> None:
    from core.models.hardware import HardwareInfo, check_fit
    from core.models.metadata import ModelFacts
    from ui.fit_view import VERDICT_COLORS, FitView

    gb = 1_000_000_000
    facts = ModelFacts("llama", 135_000_000, "Q4_1", gb // 10, 8192, None, True, None,
                       30, 3, 64, 64)
    roomy = HardwareInfo(512 * gb, 400 * gb, 8, "CPU", False)
    view = FitView()
    qtbot.addWidget(view)
    inside = check_fit(facts, 8192, roomy)
    view.set_fit("small", inside, None)
    assert inside.verdict == "fits" and not inside.context_warning
    assert view.warning.isHidden()
    beyond = check_fit(facts, 131_072, roomy)
    assert beyond.fits and "8,192" in beyond.context_warning  # memory is not the problem
    view.set_fit("small", beyond, None)
    assert not view.warning.isHidden() and "trained on" in view.warning.text()
    assert "beyond its trained context" in view.verdict.text()
    assert VERDICT_COLORS["fits"].name() not in view.verdict.styleSheet()  # no longer green


def test_grouped_query_attention_is_explained_where_kv_appears() -> None:
    from ui.learn.attention_panel import kv_explanation

    text = kv_explanation(9, 3)
    assert "9 query heads share 3 key/value heads" in text and "3 each" in text
    assert kv_explanation(8, 8) == ""  # no sharing, nothing to explain


def test_models_info_warns_beyond_the_trained_context(capsys: object) -> None:
    from core.cli import main
    from core.models.registry import BUNDLED_CHAT_ID

    assert main(["models", "info", BUNDLED_CHAT_ID, "--ctx", "131072"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "beyond the 8,192 this model was trained on" in out
    assert main(["models", "info", BUNDLED_CHAT_ID, "--ctx", "4096"]) == 0
    assert "trained on" not in capsys.readouterr().out  # type: ignore[attr-defined]


HINT = ("This chat answers from your documents with bundled:smollm2-135m-instruct, a tiny demo "
        "model (135M parameters): it often cites passages that do not exist or answers from "
        "memory. The best starter model that fits this computer is Phi-3.5 mini Instruct (3.8B "
        "parameters, strong at reasoning for its size; long context).")


def test_the_demo_model_hint_shows_every_line(qtbot: QtBot) -> None:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(860, 500)  # the chat column of the audit's 1100 px window: four lines
    view.show()
    hint = view.model_hint
    hint.show_hint("You are chatting with a tiny demo model.", "Download Phi-3.5 mini (2.4 GB)",
                   ("repo", "file.gguf"))
    QApplication.processEvents()
    hint.show_hint(HINT, "Download Phi-3.5 mini (2.4 GB)", ("repo", "file.gguf"))  # longer
    for width in (860, 640, 1000):  # narrower and wider: Sources opened and closed
        view.resize(width, 500)
        QApplication.processEvents()
        assert clipped(hint.label) is None, width
        assert view.viewport().geometry().top() >= hint.geometry().bottom()  # not under it


def test_documents_button_keeps_its_words_in_a_crowded_header(qtbot: QtBot) -> None:
    header = QWidget()
    row = QHBoxLayout(header)
    button = CollectionsButton()
    button.set_available([SAMPLE_COLLECTION])
    button.set_chosen([SAMPLE_COLLECTION])
    row.addWidget(button)
    qtbot.addWidget(header)
    header.show()
    # The header may give it less than its whole text (Sources open on a small screen):
    # Qt's own elision showed "Docume… guide", neither what the button is nor the collection.
    whole = button.sizeHint().width()
    button.setFixedWidth(whole - button.fontMetrics().horizontalAdvance(" guide"))
    QApplication.processEvents()
    assert clipped(button) is None
    assert button.shown_text().startswith(f"Documents: {SAMPLE_COLLECTION[:5]}")
    assert button.shown_text().endswith("…")
    assert SAMPLE_COLLECTION in button.toolTip()  # the whole name, whatever the width
    # And it can give width, so the header fits a smaller window before anything is cut.
    assert button.minimumSizeHint().width() < whole
    button.setFixedWidth(whole)
    assert button.shown_text() == f"Documents: {SAMPLE_COLLECTION}"


_GUIDE_PASSAGES = (("05-retrieval.md", None, "Seeing it in Glassbox"),
                   ("03-attention.md", None, "Seeing it in Glassbox"),
                   ("quantization.pdf", 2, None), ("04-sampling.md", None, "Temperature"),
                   ("05-retrieval.md", None, "Step 1: parse"),
                   ("02-embeddings.md", None, "Similar meanings"))


def test_sources_table_shows_where_each_passage_is_at_1280_px(qtbot: QtBot) -> None:
    sources = tuple(Source(n, f"/data/sample_docs/{name}", page, heading, "About Glassbox.",
                           SAMPLE_COLLECTION, n, 0.0328 - n / 5000, 0.548, 3.076, n, 10 + n, n)
                    for n, (name, page, heading) in enumerate(_GUIDE_PASSAGES, start=1))
    grounding = Grounding("What can I learn with Glassbox?", (SAMPLE_COLLECTION,), sources, 0,
                          (), "", 4096)
    panel = SourcesPanel()
    qtbot.addWidget(panel)
    panel.setMinimumWidth(300)  # as the window does; at 1280 px the pane gets about 320
    panel.resize(320, 640)
    panel.show()
    panel.show_grounding(grounding)
    QApplication.processEvents()
    table = panel.table
    # The Where column read "…r…": three score columns of "0.548  (#1)" took the room.
    assert table.item(2, 1).text() == "quantization.pdf, page 2"  # whole in the model
    width = table.columnWidth(1)
    shown = [_WhereDelegate.shown_text(table.item(row, 1).text(), table.fontMetrics(), width,
                                       table) for row in range(table.rowCount())]
    assert shown[0].startswith("05-retrieval") and shown[3].startswith("04-sampling")
    assert shown[2].startswith("quant") and shown[2].endswith(", p. 2")
    # Narrower (a larger font): the file name gives up its extension, then its end.
    metrics = table.fontMetrics()
    room = metrics.horizontalAdvance("05-retrieval.md") - 1
    assert elide_where("05-retrieval.md › Seeing it in Glassbox", metrics, room) \
        == "05-retrieval"
    assert elide_where("quantization.pdf, page 2", metrics,
                       metrics.horizontalAdvance("quantiz…, p. 2")) == "quantiz…, p. 2"
    assert elided_cells(table) == []
    assert audit(panel) == []


def test_ui_audit_sees_a_squeezed_table_column(qtbot: QtBot) -> None:
    table = QTableWidget(1, 2)
    qtbot.addWidget(table)
    table.setItem(0, 0, QTableWidgetItem("[1]"))
    table.setItem(0, 1, QTableWidgetItem("05-retrieval.md › Seeing it in Glassbox"))
    table.setColumnWidth(1, 40)
    problems = elided_cells(table)
    assert len(problems) == 1 and "'05-retrieval.md" in problems[0]
    table.setColumnWidth(1, 160)
    assert elided_cells(table) == []


def test_compare_columns_name_the_model_by_its_library_name(qtbot: QtBot) -> None:
    from desktop.compare_controller import CompareController

    panel = ComparePanel()
    qtbot.addWidget(panel)
    path = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    names = {path: "bundled:smollm2-135m-instruct"}
    controller = CompareController(object(), panel, Path("unused.db"),  # type: ignore[arg-type]
                                   lambda: path, lambda _m: None,
                                   model_name=lambda p: names.get(p, Path(p).stem))
    # The worker reports the engine's name (the file's stem) and the model's path.
    controller.worker.column_started.emit(0, "SmolLM2-135M-Instruct.Q4_1", path)
    QApplication.processEvents()
    assert panel.columns[0].model_label.text() == "bundled:smollm2-135m-instruct"
    controller.worker.column_started.emit(1, "other", "/models/other.gguf")
    QApplication.processEvents()
    assert panel.columns[1].model_label.text() == "other"
    controller.worker.deleteLater()
