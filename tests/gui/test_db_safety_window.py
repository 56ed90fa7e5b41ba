"""A damaged database in the window: the check at start shows the Check database dialog instead
of starting the workers; Restore and Recover bring the chats back and the window starts as
usual; a newer Glassbox's database is refused; Check database… lists the backups and, while
the app runs, leaves the restore for the next start."""

from __future__ import annotations

import random
from pathlib import Path

import apsw
from guitools import STARTUP_TIMEOUT_MS, OpenWindow, wait_until_ready
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.config import database_path
from core.store import ChatStore
from core.store.backup import backup_if_due, list_backups
from core.store.db import MIGRATIONS
from core.store.health import check_database
from desktop.main_window import MainWindow
from ui.database_dialog import DatabaseDialog

SHOTS = Path("/tmp/shots")
CHATS = 6


def write_chats() -> None:
    with ChatStore(database_path()) as store:
        for c in range(CHATS):
            chat = store.create_chat(f"kept chat {c}")
            for m in range(12):
                store.add_message(chat.id, "user" if m % 2 == 0 else "assistant",
                                  f"message {m} of chat {c} " + "words " * 80)


def damage_with_backup() -> None:
    """Chats, the day's backup, then 4 KB of random bytes in the middle of the file."""
    db = database_path()
    write_chats()
    assert backup_if_due(db).backup is not None
    length = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(length // 2)
        f.write(random.Random(5).randbytes(4096))
    assert check_database(db).state == "damaged"


def shown_report(qtbot: QtBot, window: MainWindow) -> DatabaseDialog:
    qtbot.waitUntil(lambda: window.database is not None and window.database.dialog.isVisible()
                    and window.database.dialog.recheck_button.isEnabled(),
                    timeout=STARTUP_TIMEOUT_MS)
    assert window.database is not None
    return window.database.dialog


def confirm(qtbot: QtBot, dialog: DatabaseDialog, button: object) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]
    assert dialog.confirm.isVisible()
    qtbot.mouseClick(dialog.confirm.confirm_button, Qt.MouseButton.LeftButton)


def shot(dialog: DatabaseDialog, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / name))


def chat_titles(window: MainWindow) -> set[str]:
    panel = window.chat_list.list
    return {panel.item(i).text() for i in range(panel.count())}


def aside(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if ".damaged-" in p.name)


def test_a_damaged_database_shows_the_dialog_and_restore_brings_the_chats_back(
        qtbot: QtBot, open_window: OpenWindow, glassbox_home: Path) -> None:
    damage_with_backup()
    window = open_window(wait_ready=False)
    dialog = shown_report(qtbot, window)
    assert "damaged" in window.error_banner.message()
    assert "damaged" in dialog.headline.text()
    dialog.close()  # the banner opens it again
    assert window.error_banner.action_button.text() == "Check database…"
    qtbot.mouseClick(window.error_banner.action_button, Qt.MouseButton.LeftButton)
    dialog = shown_report(qtbot, window)
    assert dialog.backups.rowCount() == 1 and dialog.selected_backup() is not None
    assert dialog.restore_button.isEnabled() and dialog.recover_button.isEnabled()
    assert "at next start" not in dialog.restore_button.text()
    assert window.store is not None and not window.store.worker_thread.isRunning()
    shot(dialog, "database-damaged.png")
    confirm(qtbot, dialog, dialog.restore_button)
    wait_until_ready(qtbot, window)
    assert {f"kept chat {c}" for c in range(CHATS)} <= chat_titles(window)
    assert aside(glassbox_home)
    qtbot.waitUntil(lambda: "Restored the backup" in dialog.outcome.text()
                    and dialog.outcome.isVisible(), timeout=STARTUP_TIMEOUT_MS)
    assert "whole" in dialog.headline.text()
    shot(dialog, "database-restored.png")


def test_recover_in_the_window_saves_what_can_be_read(
        qtbot: QtBot, open_window: OpenWindow, glassbox_home: Path) -> None:
    damage_with_backup()
    window = open_window(wait_ready=False)
    dialog = shown_report(qtbot, window)
    confirm(qtbot, dialog, dialog.recover_button)
    wait_until_ready(qtbot, window)
    qtbot.waitUntil(lambda: "Recovered" in dialog.outcome.text(), timeout=STARTUP_TIMEOUT_MS)
    shot(dialog, "database-recovered.png")
    assert len(chat_titles(window) & {f"kept chat {c}" for c in range(CHATS)}) >= 1
    assert aside(glassbox_home)
    assert check_database(database_path()).state == "ok"


def test_a_newer_glassbox_database_is_refused_in_the_window_until_check_again_passes(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    write_chats()
    conn = apsw.Connection(str(database_path()))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    before = database_path().read_bytes()
    window = open_window(wait_ready=False)
    dialog = shown_report(qtbot, window)
    assert "newer Glassbox" in window.error_banner.message()
    assert "newer" in dialog.headline.text()
    assert not dialog.restore_button.isEnabled() and not dialog.recover_button.isEnabled()
    assert window.store is not None and not window.store.worker_thread.isRunning()
    shot(dialog, "database-newer.png")
    assert database_path().read_bytes() == before
    assert list_backups(database_path()) == []
    conn = apsw.Connection(str(database_path()))  # as if this Glassbox were updated
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    conn.close()
    qtbot.mouseClick(dialog.recheck_button, Qt.MouseButton.LeftButton)
    wait_until_ready(qtbot, window)
    assert {f"kept chat {c}" for c in range(CHATS)} <= chat_titles(window)


def test_check_database_lists_backups_and_a_restore_waits_for_the_next_start(
        qtbot: QtBot, open_window: OpenWindow, glassbox_home: Path) -> None:
    write_chats()
    window = open_window()
    assert window.database is not None
    qtbot.waitUntil(lambda: len(list_backups(database_path())) == 1 and not
                    window.database.busy, timeout=STARTUP_TIMEOUT_MS)  # the day's backup
    menu = window.menuBar().actions()[0].menu()
    (check,) = [a for a in menu.actions() if a.text() == "Check database…"]
    check.trigger()
    dialog = shown_report(qtbot, window)
    assert "whole" in dialog.headline.text()
    assert dialog.backups.rowCount() == 1
    assert dialog.backups.item(0, 1).text() == "daily"
    assert dialog.backups.item(0, 2).text().endswith("kB")
    assert "at next start" in dialog.restore_button.text()
    assert not dialog.recover_button.isEnabled()  # nothing to recover from a whole database
    shot(dialog, "database-check.png")
    with ChatStore(database_path()) as store:  # written after the backup: the restore drops it
        store.create_chat("after the backup")
    confirm(qtbot, dialog, dialog.restore_button)
    assert "next time it starts" in dialog.outcome.text()
    assert not aside(glassbox_home)  # nothing happens while the app has the database open
    window.close()

    again = open_window(wait_ready=False)
    dialog = shown_report(qtbot, again)
    qtbot.waitUntil(lambda: "Restored the backup" in dialog.outcome.text(),
                    timeout=STARTUP_TIMEOUT_MS)
    wait_until_ready(qtbot, again)
    titles = chat_titles(again)
    assert "after the backup" not in titles
    assert {f"kept chat {c}" for c in range(CHATS)} <= titles
    assert any(".replaced-" in p.name for p in glassbox_home.iterdir())
