"""One Glassbox window per data folder: a second launch hands over to the first and exits.

Two windows on one database would fight over the engine's crash markers and write the same
chats from two processes. The first instance listens on a local socket named after its data
folder; a second launch connects, asks it to come to the front, and ends. A socket left by a
crashed instance answers nobody, so the next launch takes the name over.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

_CONNECT_TIMEOUT_MS = 1000
_ACTIVATE = b"activate\n"


def server_name(home: Path) -> str:
    """A socket name for this user and data folder (two GLASSBOX_HOMEs may run side by side)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a container: the folder alone decides
        user = ""
    key = f"{user}\0{home.resolve()}".encode()
    return "glassbox-" + hashlib.sha256(key).hexdigest()[:24]


class SingleInstance(QObject):
    """The first instance's listener, or the second instance's hand-over."""

    activate_requested = Signal()

    def __init__(self, home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(home)
        self._server: QLocalServer | None = None

    def hand_over(self) -> bool:
        """Ask a running instance to come to the front; True if one answered (then exit)."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(_CONNECT_TIMEOUT_MS):
            return False
        socket.write(_ACTIVATE)
        socket.flush()
        socket.waitForBytesWritten(_CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def listen(self) -> bool:
        """Become the instance others hand over to. False if the name cannot be taken."""
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # Nobody answered hand_over(), so a socket file here is left from a crash.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return False
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._on_ready(socket)

    def _on_ready(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(_ACTIVATE.strip()):
            self.activate_requested.emit()


def bring_to_front(window: QWidget) -> None:
    """Show the window un-minimised and raised; the desktop decides about focus stealing."""
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
