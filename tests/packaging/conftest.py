"""The packaged-app test builds dist/Glassbox/ (minutes of CPU): it runs only when asked for.

`make package-test` sets GLASSBOX_PACKAGE_TEST=1; `pytest -m slow tests/packaging` asks too.
Plain `make test` deselects it (reported as deselected, not skipped), so the suite stays fast.
"""

from __future__ import annotations

import os

import pytest

PACKAGE_TEST_ENV = "GLASSBOX_PACKAGE_TEST"


def _asked_for(config: pytest.Config) -> bool:
    return os.environ.get(PACKAGE_TEST_ENV) == "1" or "slow" in (config.getoption("-m") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _asked_for(config):
        return
    here = os.path.dirname(__file__)
    # This hook sees the whole session's items: only this folder's slow tests are ours.
    ours = [i for i in items if i.get_closest_marker("slow") and str(i.path).startswith(here)]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [i for i in items if i not in ours]
