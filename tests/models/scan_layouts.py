"""Lay a GGUF out in a home folder exactly as Ollama, LM Studio, GPT4All and Jan lay out theirs.

Files are hard links to one copy of the bundled model (no 90 MB copy per app), so every layout
is the same file: a scan of several apps at once lists it once, with the other names as aliases.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MODEL_LAYER = "application/vnd.ollama.image.model"


def link(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, target)
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _blob(models: Path, data: bytes) -> str:
    hexdigest = hashlib.sha256(data).hexdigest()
    blob = models / "blobs" / f"sha256-{hexdigest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    return f"sha256:{hexdigest}"


def ollama(home: Path, gguf: Path, digest: str, *, model: str = "smollm2", tag: str = "135m",
           namespace: str = "library", registry: str = "registry.ollama.ai",
           models: Path | None = None, with_blob: bool = True) -> Path:
    """`ollama pull`'s result: the weights as blobs/sha256-<hex>, plus the config, template and
    licence blobs (JSON and text, not GGUF) and a manifest naming them all. Returns the
    manifest."""
    models = models or home / ".ollama" / "models"
    if with_blob:
        blob = models / "blobs" / f"sha256-{digest}"
        if not blob.exists():
            link(gguf, blob)
    config = _blob(models, json.dumps({"model_format": "gguf", "model_family": "llama"})
                   .encode())
    template = _blob(models, b"{{ .System }}\n{{ .Prompt }}")
    licence = _blob(models, b"Apache License 2.0")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": config, "size": 100},
        "layers": [
            {"mediaType": MODEL_LAYER, "digest": f"sha256:{digest}",
             "size": gguf.stat().st_size},
            {"mediaType": "application/vnd.ollama.image.template", "digest": template,
             "size": 30},
            {"mediaType": "application/vnd.ollama.image.license", "digest": licence,
             "size": 18},
        ],
    }
    path = models / "manifests" / registry / namespace / model / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def lmstudio(home: Path, gguf: Path, publisher: str = "lmstudio-community",
             repo: str = "SmolLM2-135M-Instruct-GGUF",
             filename: str = "SmolLM2-135M-Instruct-Q4_1.gguf", old: bool = False) -> Path:
    base = home / ".cache" / "lm-studio" / "models" if old else home / ".lmstudio" / "models"
    return link(gguf, base / publisher / repo / filename)


def gpt4all(home: Path, gguf: Path, filename: str = "smollm2-135m-instruct.Q4_1.gguf") -> Path:
    """Linux: ~/.local/share/nomic.ai/GPT4All/<file>.gguf."""
    return link(gguf, home / ".local" / "share" / "nomic.ai" / "GPT4All" / filename)


def jan(home: Path, gguf: Path, model_id: str = "smollm2-135m-instruct",
        old: bool = False) -> Path:
    """Jan 0.6+: <data>/llamacpp/models/<id>/model.gguf with a model.yml; before: ~/jan/models."""
    if old:
        return link(gguf, home / "jan" / "models" / model_id / f"{model_id}.gguf")
    folder = home / ".local" / "share" / "Jan" / "data" / "llamacpp" / "models" / model_id
    path = link(gguf, folder / "model.gguf")
    (folder / "model.yml").write_text(
        f"model_path: llamacpp/models/{model_id}/model.gguf\nname: {model_id}\n"
        f"size_bytes: {gguf.stat().st_size}\nembedding: false\n", encoding="utf-8")
    return path


def jan_imported(home: Path, outside: Path, model_id: str = "imported-smollm2") -> Path:
    """A model imported into Jan "in place": its model.yml points at a file elsewhere."""
    folder = home / ".local" / "share" / "Jan" / "data" / "llamacpp" / "models" / model_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yml").write_text(f"model_path: {outside}\nname: {model_id}\n",
                                      encoding="utf-8")
    return folder / "model.yml"
