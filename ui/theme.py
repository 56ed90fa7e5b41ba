"""One look for light and dark: the palette, the style sheet (resources/style/glassbox.qss, for
the main tabs and the status bar), secondary text, WCAG contrast, and the icons.

Every colour a person reads is at least 4.5:1 against its background (WCAG AA), secondary text
included: secondary text is a widget whose foreground role is PlaceholderText, which both
palettes define as a readable grey (Qt's own default is half-transparent text, about 2.5:1).
Icons come from qtawesome (Material Design Icons, Apache 2.0, the licence ships in the
package); it is imported with the first icon, after the window's first paint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QWidget

STYLE_SHEET = Path(__file__).resolve().parents[1] / "resources" / "style" / "glassbox.qss"
AA = 4.5  # WCAG 2 AA for normal text


@dataclass(frozen=True)
class Scheme:
    window: str
    base: str
    alternate: str
    text: str
    secondary: str  # legends, explanations, placeholders: readable, quieter than text
    button: str
    border: str
    highlight: str
    highlighted_text: str
    link: str
    disabled: str  # disabled controls: dimmed, still legible (about 3:1 and up)
    tooltip: str
    tooltip_text: str

    @property
    def dark(self) -> bool:
        return QColor(self.window).lightness() < 128


LIGHT = Scheme(window="#f5f6f8", base="#ffffff", alternate="#f0f2f5", text="#1b1f24",
               secondary="#4f5763", button="#e9ecf0", border="#c3c9d1", highlight="#1f62d0",
               highlighted_text="#ffffff", link="#1a56b8", disabled="#6e7681",
               tooltip="#1b1f24", tooltip_text="#f5f6f8")
DARK = Scheme(window="#1f2227", base="#17191d", alternate="#23262c", text="#e8eaed",
              secondary="#b3b9c2", button="#2d3138", border="#454b55", highlight="#2f6cc9",
              highlighted_text="#ffffff", link="#79b0ff", disabled="#8a919b",
              tooltip="#e8eaed", tooltip_text="#17191d")


def scheme_for(dark: bool) -> Scheme:
    return DARK if dark else LIGHT


def system_is_dark(app: QGuiApplication) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def palette_for(scheme: Scheme) -> QPalette:
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    palette = QPalette()
    colors = {
        role.Window: scheme.window, role.WindowText: scheme.text, role.Base: scheme.base,
        role.AlternateBase: scheme.alternate, role.Text: scheme.text,
        role.Button: scheme.button, role.ButtonText: scheme.text,
        role.BrightText: "#ffffff", role.Highlight: scheme.highlight,
        role.HighlightedText: scheme.highlighted_text, role.Link: scheme.link,
        role.LinkVisited: scheme.link, role.ToolTipBase: scheme.tooltip,
        role.ToolTipText: scheme.tooltip_text, role.PlaceholderText: scheme.secondary,
        role.Light: _mix(scheme.button, "#ffffff", 0.5), role.Midlight: scheme.button,
        role.Mid: scheme.border, role.Dark: _mix(scheme.border, "#000000", 0.3),
        role.Shadow: "#000000", role.Accent: scheme.highlight,
    }
    for color_role, color in colors.items():
        palette.setColor(color_role, QColor(color))
    for color_role in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, color_role, QColor(scheme.disabled))
    palette.setColor(group.Disabled, role.Highlight, QColor(scheme.border))
    palette.setColor(group.Disabled, role.PlaceholderText, QColor(scheme.disabled))
    return palette


def style_sheet(scheme: Scheme) -> str:
    """The style sheet with @name replaced by the scheme's colours (longest names first)."""
    text = STYLE_SHEET.read_text(encoding="utf-8")
    names = sorted(Scheme.__dataclass_fields__, key=len, reverse=True)
    for name in names:
        text = text.replace(f"@{name}", getattr(scheme, name))
    return text


def apply_theme(app: QApplication, dark: bool | None = None) -> Scheme:
    """The palette for `dark` (None: follow the system, and keep following it). The style
    sheet is not set on the application: an application style sheet puts every widget through
    the style-sheet renderer, which doubled the time to build the window; style_widget() gives
    it to the few widgets it is for."""
    scheme = scheme_for(system_is_dark(app) if dark is None else dark)
    app.setProperty("glassbox_dark", scheme.dark)
    app.setPalette(palette_for(scheme))
    # Once any widget has a style sheet (the tab bar's), Qt stops re-resolving the other
    # widgets' palettes when the application's changes: a switch to dark left the labels'
    # text dark. Each widget without a palette of its own is asked to resolve again.
    change = QEvent(QEvent.Type.ApplicationPaletteChange)
    for widget in app.allWidgets():
        if not widget.testAttribute(Qt.WidgetAttribute.WA_SetPalette):
            QApplication.sendEvent(widget, change)
    if dark is None and not app.property("glassbox_follows_system"):
        app.setProperty("glassbox_follows_system", True)
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_theme(app))
    return scheme


def current_scheme() -> Scheme:
    """The scheme apply_theme() chose last (light before it ran)."""
    app = QApplication.instance()
    return scheme_for(bool(app.property("glassbox_dark")) if app is not None else False)


def style_widget(widget: QWidget) -> None:
    """Give `widget` (and its children) the style sheet in the current scheme's colours; call
    again when the palette changes."""
    widget.setStyleSheet(style_sheet(current_scheme()))


def mark_secondary(widget: QWidget) -> QWidget:
    """Secondary text (a legend, an explanation): quieter than body text, still AA. Replaces
    setEnabled(False) used for looks, which made text look disabled and fail contrast."""
    widget.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return widget


# -- contrast -------------------------------------------------------------------------------
def luminance(color: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 (none) .. 21 (black on white)."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def readable(color: QColor | str, background: QColor, minimum: float = AA) -> QColor:
    """`color` darkened (on light) or lightened (on dark) until it reads on `background`:
    keeps a category colour recognisable as text (a yellow label on white becomes olive)."""
    out = QColor(color)
    target = QColor("#000000") if luminance(background) > 0.18 else QColor("#ffffff")
    step = 0
    while contrast(out, background) < minimum and step < 20:
        out = QColor(_mix(out.name(), target.name(), 0.15))
        step += 1
    return out


def _mix(a: str, b: str, amount: float) -> str:
    ca, cb = QColor(a), QColor(b)
    return QColor.fromRgbF(ca.redF() + (cb.redF() - ca.redF()) * amount,
                           ca.greenF() + (cb.greenF() - ca.greenF()) * amount,
                           ca.blueF() + (cb.blueF() - ca.blueF()) * amount).name()


# -- icons ----------------------------------------------------------------------------------
ICONS = {  # what a thing is -> Material Design Icons 6 name (qtawesome's "mdi6." set)
    "chat": "mdi6.chat-outline", "learn": "mdi6.school-outline",
    "documents": "mdi6.file-document-multiple-outline", "models": "mdi6.cube-outline",
    "compare": "mdi6.compare-horizontal", "server": "mdi6.server-network", "send": "mdi6.send",
    "stop": "mdi6.stop",
    "sources": "mdi6.book-open-variant", "inspect": "mdi6.magnify-scan",
    "system_prompt": "mdi6.card-text-outline", "sampling": "mdi6.tune-variant",
    "presets": "mdi6.bookmark-multiple-outline", "new_chat": "mdi6.plus",
    "collections": "mdi6.bookshelf", "add_files": "mdi6.file-plus-outline",
    "add_folder": "mdi6.folder-plus-outline", "open_file": "mdi6.folder-open-outline",
    "download": "mdi6.download",
    "capture": "mdi6.play", "run": "mdi6.play", "use": "mdi6.check",
}


def icon(name: str, palette: QPalette | None = None) -> QIcon:
    """The icon for `name` (a key of ICONS), drawn in the palette's text colour."""
    import os

    os.environ.setdefault("QT_API", "pyside6")
    import qtawesome

    app = QApplication.instance()
    palette = palette or (app.palette() if isinstance(app, QApplication) else QPalette())
    text = palette.color(QPalette.ColorRole.ButtonText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
    return qtawesome.icon(ICONS[name], color=text, color_disabled=disabled)
