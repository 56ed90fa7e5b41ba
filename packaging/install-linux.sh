#!/usr/bin/env bash
# Install the built app for the current user: the folder under ~/.local/opt/Glassbox, a
# `glassbox` command in ~/.local/bin, the menu entry and the icons. Run it from the built
# folder (dist/Glassbox/install-linux.sh) or give that folder: install-linux.sh dist/Glassbox
# Undo with: install-linux.sh --uninstall
set -euo pipefail
APP_DIR="${XDG_DATA_HOME:-$HOME/.local/share}"
OPT="$HOME/.local/opt/Glassbox"
BIN="$HOME/.local/bin"

if [[ "${1:-}" == "--uninstall" ]]; then
    rm -rf "$OPT" "$BIN/glassbox" "$APP_DIR/applications/glassbox.desktop"
    rm -f "$APP_DIR"/icons/hicolor/*/apps/glassbox.png "$APP_DIR/icons/hicolor/scalable/apps/glassbox.svg"
    echo "Glassbox removed (your chats and documents stay in ~/.local/share/Glassbox)."
    exit 0
fi

SRC="$(cd "${1:-$(dirname "$0")}" && pwd)"
if [[ ! -x "$SRC/Glassbox" ]]; then
    echo "install-linux.sh: no Glassbox executable in $SRC; build it first (make package)" >&2
    exit 2
fi
mkdir -p "$OPT" "$BIN" "$APP_DIR/applications"
cp -a "$SRC/." "$OPT/"
ln -sf "$OPT/Glassbox" "$BIN/glassbox"
sed "s|^Exec=.*|Exec=$OPT/Glassbox|" "$SRC/share/glassbox.desktop" \
    > "$APP_DIR/applications/glassbox.desktop"
for png in "$SRC"/share/icons/glassbox-*.png; do
    size="$(basename "$png" .png)"; size="${size#glassbox-}"
    mkdir -p "$APP_DIR/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$APP_DIR/icons/hicolor/${size}x${size}/apps/glassbox.png"
done
mkdir -p "$APP_DIR/icons/hicolor/scalable/apps"
cp "$SRC/share/icons/glassbox.svg" "$APP_DIR/icons/hicolor/scalable/apps/glassbox.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$APP_DIR/applications" || true
echo "Glassbox installed: find it in your applications menu, or run \`glassbox\`."
