"""A second launch on the same data folder hands over to the first window and exits, before it
opens the database; a socket left by a crashed instance does not block the next launch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from stress_level import ROOT

from desktop.app import ALREADY_RUNNING
from desktop.single_instance import SingleInstance, bring_to_front, server_name

_LAUNCH_TIMEOUT_MS = 120_000


def launch(home: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, GLASSBOX_HOME=str(home), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(ROOT / "main.py")], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_launch_raises_the_first_window_and_exits(qtbot: QtBot,
                                                           glassbox_home: Path) -> None:
    first = SingleInstance(glassbox_home)
    assert first.listen()
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    first.activate_requested.connect(lambda: bring_to_front(window))
    database = glassbox_home / "glassbox.sqlite3"
    existed = database.exists()
    second = launch(glassbox_home)
    try:
        with qtbot.waitSignal(first.activate_requested, timeout=_LAUNCH_TIMEOUT_MS):
            pass
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=_LAUNCH_TIMEOUT_MS)
    finally:
        if second.poll() is None:
            second.kill()
        out, err = second.communicate()
        first.close()
    assert second.returncode == 0, err
    assert ALREADY_RUNNING in err
    assert window.isVisible() and not window.isMinimized()
    assert database.exists() == existed  # the second launch never opened the database


def test_a_socket_left_by_a_killed_instance_is_taken_over(qtbot: QtBot,
                                                          glassbox_home: Path) -> None:
    code = ("import sys, time; from PySide6.QtCore import QCoreApplication; "
            "from desktop.single_instance import SingleInstance; from pathlib import Path; "
            "app = QCoreApplication([]); s = SingleInstance(Path(sys.argv[1])); "
            "print(s.listen(), flush=True); time.sleep(600)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    crashed = subprocess.Popen([sys.executable, "-c", code, str(glassbox_home)], env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert crashed.stdout is not None and crashed.stdout.readline().strip() == "True"
    finally:
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait()
        if crashed.stdout:
            crashed.stdout.close()
    instance = SingleInstance(glassbox_home)
    assert not instance.hand_over()  # nobody answers on the dead one's socket
    assert instance.listen()  # and the name is taken over
    instance.close()


def test_each_data_folder_has_its_own_instance(tmp_path: Path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "a" / ".." / "a")
