"""Where other apps keep the GGUF models they downloaded, and how each lays its files out.

Plain knowledge of other programs' folders, kept apart from the scan itself so each layout can
be read (and corrected when an app changes it) in one place:

- Ollama: `models/manifests/<registry>/<namespace>/<model>/<tag>` are JSON manifests; the layer
  whose mediaType is `application/vnd.ollama.image.model` names the weights by digest, stored as
  `models/blobs/sha256-<hex>`. `OLLAMA_MODELS` moves the folder; Linux service installs keep it
  under /usr/share/ollama.
- LM Studio: `~/.lmstudio/models/<publisher>/<repo>/*.gguf` (older: ~/.cache/lm-studio/models).
- GPT4All: `*.gguf` in its data folder (per platform).
- Jan: `<data folder>/llamacpp/models/<id>/` with a `model.yml` whose `model_path` names the
  file (an imported one may live elsewhere); the data folder is in Jan's settings.json
  (`data_folder`) and defaults to the app data folder; Jan before 0.6 used `~/jan/models`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

OLLAMA, LMSTUDIO, GPT4ALL, JAN, FOLDER = "ollama", "lmstudio", "gpt4all", "jan", "folder"
APP_NAMES = {OLLAMA: "Ollama", LMSTUDIO: "LM Studio", GPT4ALL: "GPT4All", JAN: "Jan",
             FOLDER: "folder"}
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
_OLLAMA_DEFAULT_REGISTRY = "registry.ollama.ai"
_OLLAMA_DEFAULT_NAMESPACE = "library"
_MANIFEST_LIMIT = 1 << 20  # manifests are a few hundred bytes: anything bigger is not one


@dataclass(frozen=True)
class ScanRoot:
    """One folder to look in. `kind` is "ollama" (manifests and blobs) or "tree" (any .gguf
    below it); `source` names the app the files came from."""

    source: str
    path: Path
    kind: str = "tree"


def _app_data(home: Path, env: Mapping[str, str], system: str) -> list[Path]:
    """The folders apps keep their data in on this platform (most specific first)."""
    if system == "Darwin":
        return [home / "Library" / "Application Support"]
    if system == "Windows":
        return [Path(env[k]) for k in ("LOCALAPPDATA", "APPDATA") if env.get(k)] \
            or [home / "AppData" / "Local", home / "AppData" / "Roaming"]
    xdg = env.get("XDG_DATA_HOME")
    return [Path(xdg)] if xdg else [home / ".local" / "share"]


def default_roots(home: Path | None = None, env: Mapping[str, str] | None = None,
                  system: str | None = None) -> list[ScanRoot]:
    """Every folder where Ollama, LM Studio, GPT4All and Jan keep models, for `home` (default:
    the user's). Folders shared by the whole machine (Ollama's Linux service) are added only for
    the real home, so a scan of a test home sees nothing else. Missing folders are kept: the
    scan reports them as not there."""
    real = home is None
    home = Path.home() if home is None else Path(home)
    env = os.environ if env is None else env
    system = system or platform.system()
    data = _app_data(home, env, system)
    roots: list[ScanRoot] = []
    ollama = [Path(env["OLLAMA_MODELS"])] if env.get("OLLAMA_MODELS") else []
    ollama.append(home / ".ollama" / "models")
    if real and system == "Linux":
        ollama.append(Path("/usr/share/ollama/.ollama/models"))
    roots += [ScanRoot(OLLAMA, p, "ollama") for p in ollama]
    roots += [ScanRoot(LMSTUDIO, home / ".lmstudio" / "models"),
              ScanRoot(LMSTUDIO, home / ".cache" / "lm-studio" / "models")]
    roots += [ScanRoot(GPT4ALL, d / "nomic.ai" / "GPT4All") for d in data]
    roots += [ScanRoot(JAN, p) for p in jan_model_folders(home, data)]
    return _unique_roots(roots)


def jan_model_folders(home: Path, data: list[Path]) -> list[Path]:
    """Jan's model folders: the data folder its settings name, its default, and the old one."""
    folders: list[Path] = []
    for base in data:
        for app in ("Jan", "jan"):
            settings = base / app / "settings.json"
            chosen = _jan_data_folder(settings)
            if chosen is not None:
                folders.append(chosen / "llamacpp" / "models")
            folders.append(base / app / "data" / "llamacpp" / "models")
    folders.append(home / "jan" / "models")
    return folders


def _jan_data_folder(settings: Path) -> Path | None:
    try:
        data = json.loads(settings.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no settings (the default folder is listed anyway) or damaged ones
    folder = data.get("data_folder") if isinstance(data, dict) else None
    return Path(folder) if isinstance(folder, str) and folder else None


def _unique_roots(roots: list[ScanRoot]) -> list[ScanRoot]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for root in roots:
        key = (root.kind, os.path.normcase(os.path.abspath(root.path)))
        if key not in seen:
            seen.add(key)
            kept.append(root)
    return kept


# -- Ollama -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OllamaModel:
    """What one manifest says: the model's name and where its weights blob should be."""

    name: str  # "llama3.2:1b", "someone/model:tag", "host/ns/model:tag"
    manifest: Path
    blob: Path | None  # None: the manifest names no model layer
    declared_size: int | None


class ManifestError(ValueError):
    """A manifest that cannot be used; the message says why, for a person."""


def ollama_manifests(models: Path) -> Iterator[Path]:
    """Every manifest file below `models/manifests` (registry/namespace/model/tag)."""
    top = models / "manifests"
    if not top.is_dir():
        return
    for registry in sorted(_dirs(top)):
        for namespace in sorted(_dirs(registry)):
            for model in sorted(_dirs(namespace)):
                for tag in sorted(model.iterdir()):
                    if tag.is_file():
                        yield tag


def _dirs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()]


def ollama_name(manifest: Path, models: Path) -> str:
    """`library` models are called by their short name ("llama3.2:1b"), as `ollama list` does."""
    registry, namespace, model, tag = manifest.relative_to(models / "manifests").parts[-4:]
    if registry != _OLLAMA_DEFAULT_REGISTRY:
        return f"{registry}/{namespace}/{model}:{tag}"
    if namespace != _OLLAMA_DEFAULT_NAMESPACE:
        return f"{namespace}/{model}:{tag}"
    return f"{model}:{tag}"


def read_manifest(manifest: Path, models: Path) -> OllamaModel:
    """The model layer a manifest names; ManifestError if it is not a manifest at all."""
    name = ollama_name(manifest, models)
    try:
        if manifest.stat().st_size > _MANIFEST_LIMIT:
            raise ManifestError(f"Ollama manifest for {name} ({manifest}) is too big to be a "
                                "manifest; skipped.")
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"Could not read Ollama's manifest for {name} ({manifest}): "
                            f"{exc.strerror or exc}.") from exc
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ManifestError(f"Ollama's manifest for {name} ({manifest}) is not valid JSON; "
                            "skipped. `ollama pull` can write it again.") from exc
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise ManifestError(f"Ollama's manifest for {name} ({manifest}) lists no layers; "
                            "skipped.")
    for layer in layers:
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
            digest = layer.get("digest")
            if not isinstance(digest, str) or not digest.startswith("sha256:") \
                    or not all(c in "0123456789abcdef" for c in digest[7:]) \
                    or len(digest) != 7 + 64:
                raise ManifestError(f"Ollama's manifest for {name} ({manifest}) names its "
                                    f"weights by a digest that is not a sha256 ({digest!r}).")
            size = layer.get("size")
            return OllamaModel(name, manifest, _blob_path(models, digest[7:]),
                               size if isinstance(size, int) else None)
    return OllamaModel(name, manifest, None, None)


def _blob_path(models: Path, hexdigest: str) -> Path:
    """Blobs are `sha256-<hex>`; very old Ollama versions wrote `sha256:<hex>` (not on
    Windows, where a colon cannot be in a file name)."""
    blobs = models / "blobs"
    dashed = blobs / f"sha256-{hexdigest}"
    if not dashed.exists() and os.name != "nt":
        colon = blobs / f"sha256:{hexdigest}"
        if colon.exists():
            return colon
    return dashed


# -- Jan ----------------------------------------------------------------------------------------
def jan_model_path(model_yml: Path) -> Path | None:
    """The file a Jan `model.yml` points at (`model_path:`): absolute, or relative to Jan's
    data folder (`<data>/llamacpp/models/<id>/model.yml`) or to the model's own folder. Read as
    one plain `key: value` line: Glassbox has no YAML parser, and this is the only key it
    needs."""
    try:
        text = model_yml.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model_path":
            value = value.strip().strip("'\"")
            if not value:
                return None
            path = Path(value)
            if path.is_absolute():
                return path
            candidates = [model_yml.parent / path]
            if len(model_yml.parents) > 3:
                candidates.insert(0, model_yml.parents[3] / path)
            return next((c for c in candidates if c.exists()), candidates[-1])
    return None
