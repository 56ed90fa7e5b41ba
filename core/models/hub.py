"""Hugging Face hub: search GGUF repositories and list a repository's GGUF files.

Metadata comes through huggingface-hub's `HfApi`, imported inside the functions (it is slow to
import and the window's start path must not pay for it). The endpoint is read from
`HF_ENDPOINT` at call time, not at import, so a mirror (or the tests' local hub) set later in
the process is honoured.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from core.errors import HubError
from core.models.hardware import HardwareInfo, detect_hardware, ram_budget
from core.models.metadata import quantization_from_name

DEFAULT_ENDPOINT = "https://huggingface.co"
_SPLIT = re.compile(r"-\d{5}-of-(\d{5})\.gguf$", re.IGNORECASE)
# Quantizations from worst to best quality; a recommendation takes the best that fits. F16 and
# up are left out: on a CPU they are slow and twice the size for a gain few can notice.
QUALITY_ORDER = (
    "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "Q2_K_S", "Q2_K", "Q2_K_L",
    "IQ3_XXS", "IQ3_XS", "Q3_K_S", "IQ3_S", "IQ3_M", "Q3_K_M", "Q3_K_L", "Q3_K_XL", "IQ4_XS",
    "IQ4_NL", "Q4_0", "Q4_K_S", "Q4_1", "Q4_K_M", "Q4_K_L", "Q5_0", "Q5_K_S", "Q5_1", "Q5_K_M",
    "Q5_K_L", "Q6_K", "Q6_K_L", "Q8_0",
)
# A model file also needs its KV cache and buffers: about this much on top, for a small model
# at a few thousand tokens of context (`hardware.check_fit` is exact once the file is here).
_RUNTIME_SHARE = 0.15
_RUNTIME_BASE = 400_000_000


@dataclass(frozen=True)
class HubModel:
    repo_id: str
    downloads: int | None
    likes: int | None
    gated: bool
    last_modified: str | None
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HubFile:
    filename: str
    size: int | None
    sha256: str | None  # from the hub's LFS metadata: what the download is checked against
    quantization: str | None
    parts: int = 1  # split models ("-00001-of-00003.gguf") come in several files
    recommended: bool = False

    @property
    def is_projector(self) -> bool:
        """Vision projectors (mmproj) are GGUF too, but not models one can chat with."""
        return "mmproj" in self.filename.lower()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HubRepo:
    repo_id: str
    revision: str  # the commit the listing (and so the download) is pinned to
    files: tuple[HubFile, ...]
    license: str | None
    gated: bool

    def file(self, filename: str) -> HubFile:
        for f in self.files:
            if f.filename == filename:
                return f
        names = ", ".join(f.filename for f in self.files) or "none"
        raise HubError(f"{self.repo_id} has no GGUF file named {filename!r} (it has: {names}).")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _api() -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_endpoint())


@contextlib.contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """Turn huggingface-hub's and httpx's many exceptions into one HubError a person can read."""
    import httpx2
    from huggingface_hub import errors as hf

    try:
        yield
    except hf.GatedRepoError as exc:
        raise HubError(f"{what}: the repository is gated. Accept its licence on the hub's "
                       "web page, then log in (`hf auth login`) and try again.") from exc
    except hf.RepositoryNotFoundError as exc:
        raise HubError(f"{what}: no such repository on the hub (or it is private). "
                       "Check the name, written owner/name.") from exc
    except hf.RevisionNotFoundError as exc:
        raise HubError(f"{what}: that revision does not exist.") from exc
    except hf.EntryNotFoundError as exc:
        raise HubError(f"{what}: the file is not in the repository.") from exc
    except hf.HFValidationError as exc:
        raise HubError(f"{what}: {exc}") from exc
    except hf.OfflineModeIsEnabled as exc:
        raise HubError(f"{what}: hub access is switched off in this process (HF_HUB_OFFLINE "
                       "is set). Unset it to search and download models.") from exc
    except hf.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise HubError(f"{what}: the hub answered with an error (HTTP {status}). "
                       "Try again later.") from exc
    except httpx2.HTTPError as exc:
        raise HubError(f"{what}: could not reach the hub at {hub_endpoint()} ({exc}). "
                       "Check the internet connection.") from exc
    except (ValueError, KeyError, TypeError) as exc:  # a reply that is not what the API says
        raise HubError(f"{what}: the hub's reply was not understood ({exc}).") from exc


def search_models(query: str, limit: int = 20) -> list[HubModel]:
    """GGUF repositories whose name contains `query`, most downloaded first."""
    from huggingface_hub import ModelInfo
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    params: dict[str, Any] = {"filter": "gguf", "sort": "downloads", "direction": -1,
                              "limit": limit}
    if query:
        params["search"] = query
    with hub_errors(f"Searching the hub for {query!r}"):
        # One GET of the public /api/models endpoint, not HfApi.list_models: that one retries a
        # refused connection with backoff for about 20 s, too long to wait on a search box.
        response = get_session().get(f"{hub_endpoint()}/api/models", params=params,
                                     headers=build_hf_headers(), timeout=30)
        hf_raise_for_status(response)
        found = [ModelInfo(**{"siblings": None, **item}) for item in response.json()[:limit]]
        return [HubModel(m.id, m.downloads, m.likes, bool(m.gated),
                         m.last_modified.isoformat() if m.last_modified else None,
                         tuple(m.tags or ()))
                for m in found]


def _license(info: Any) -> str | None:
    card = getattr(info, "card_data", None)
    licence = getattr(card, "license", None) if card is not None else None
    if licence:
        return str(licence)
    tags = [t for t in (info.tags or []) if t.startswith("license:")]
    return tags[0].split(":", 1)[1] if tags else None


def repo_files(repo_id: str, revision: str = "main",
               hw: HardwareInfo | None = None) -> HubRepo:
    """The GGUF files of a repository with size, sha256 and quantization; the file that suits
    this machine's memory best is marked `recommended`."""
    with hub_errors(f"Listing {repo_id}"):
        info = _api().model_info(repo_id, revision=revision, files_metadata=True, timeout=30)
        files = []
        for sibling in info.siblings or []:
            name = sibling.rfilename
            if not name.lower().endswith(".gguf"):
                continue
            split = _SPLIT.search(name)
            lfs = sibling.lfs
            files.append(HubFile(name, lfs.size if lfs else sibling.size,
                                 lfs.sha256 if lfs else None, quantization_from_name(name),
                                 int(split.group(1)) if split else 1))
        files.sort(key=lambda f: (f.size or 0, f.filename))
        repo = HubRepo(repo_id, info.sha or revision, tuple(files), _license(info),
                       bool(info.gated))
    best = recommend_file(repo.files, hw)
    if best is None:
        return repo
    return replace(repo, files=tuple(replace(f, recommended=f is best) for f in repo.files))


def estimated_need(size: int) -> int:
    """Memory a model file of `size` bytes needs to run, roughly, before its header is read."""
    return int(size * (1 + _RUNTIME_SHARE)) + _RUNTIME_BASE


def recommend_file(files: tuple[HubFile, ...] | list[HubFile],
                   hw: HardwareInfo | None = None) -> HubFile | None:
    """The best-quality single-file quantization that fits this machine's memory budget (RAM,
    plus VRAM the build can use); None when none fits or no file names its quantization."""
    hw = hw or detect_hardware()
    budget = ram_budget(hw)
    if budget is None:
        return None
    if hw.gpu_offload and hw.vram_free and not hw.unified_memory:
        budget += int(hw.vram_free * 0.9)
    rank = {q: i for i, q in enumerate(QUALITY_ORDER)}
    candidates = [f for f in files if f.parts == 1 and not f.is_projector and f.size
                  and f.quantization in rank and estimated_need(f.size) <= budget]
    if not candidates:
        return None
    return max(candidates, key=lambda f: (rank[f.quantization or ""], -(f.size or 0)))
