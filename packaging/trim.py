"""What the packaged app leaves out: modules it never imports and files it never opens.

Used by glassbox.spec (and by tests/packaging, which check the result). Every entry was tried
against `Glassbox --self-test` and the startup probe: remove one from here if a build starts
failing for want of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatch

TRIM: dict[str, list[str]] = {
    # Imported by nothing on the app's paths, but reachable through optional imports of
    # torch, transformers or the build tools in the same environment.
    "modules": [
        "tkinter", "_tkinter", "matplotlib", "IPython", "jedi", "pytest", "_pytest",
        "pytestqt", "mypy", "ruff", "importlinter", "grimp", "PyInstaller", "pip",
        "torchvision", "torchaudio", "triton", "tensorboard", "pandas", "notebook",
        "jupyter_client", "sphinx", "docutils", "torch.testing._internal.opinfo",
        "torch.utils.tensorboard", "torch.utils.benchmark", "torch.onnx._internal.exporter",
        "onnx", "onnxruntime", "openvino", "optimum", "datasets", "PySide6.QtQml",
        "PySide6.QtQuick",
    ],
    # Bundle paths (as PyInstaller names them, "/" separated) of data files and libraries.
    "paths": [
        "PySide6/Qt/translations/*",  # the app is English-only for now
        "PySide6/Qt/plugins/platforms/libqvnc.so",
        "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
        "PySide6/Qt/plugins/platforms/libqminimalegl.so",
        "PySide6/Qt/plugins/platforms/libqeglfs.so",
        "PySide6/Qt/plugins/egldeviceintegrations/*",
        "PySide6/Qt/plugins/generic/*",
        # GTK's theme plugin pulls in GTK 3, cairo, pango and ATK (16 MB); the app draws with
        # Fusion and its own palette. Its libraries go too: see orphaned_libraries().
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "PySide6/Qt/plugins/networkinformation/*",  # no Qt networking: downloads use httpx
        "PySide6/Qt/plugins/tls/*",
        "libcudart.so*",  # a system CUDA runtime found through a ctypes name in torch: CPU app
        "torch/test/*",  # torch's own test binaries and data
        "torch/bin/*",  # test executables and protoc (torch_shm_manager is kept: see KEEP)
        "torch/include/*",
        "torch/share/*",  # cmake files for building extensions
        "torch/utils/benchmark/*",
        "torch/_inductor/codegen/*.h",
        "*/tests/*",
        "*/testing/_private/*",
        "*.pyi",
        "*.h",
        "*.hpp",
        "*.cuh",
        "*.cmake",
    ],
}


def orphaned_libraries(kept: list[tuple[str, str]], dropped: list[tuple[str, str]],
                       imports: Callable[[str], Iterable[str]]) -> set[str]:
    """Top-level libraries (bundle names without a folder) that only dropped binaries need.

    `kept` and `dropped` are (bundle name, source path) pairs; `imports(source)` names the
    libraries a binary links against. A library is kept if any kept binary needs it, directly
    or through other top-level libraries.
    """
    top = {dest: src for dest, src in kept if "/" not in dest.replace("\\", "/")}
    cache: dict[str, list[str]] = {}

    def needs(src: str) -> list[str]:
        if src not in cache:
            cache[src] = [name for name in imports(src) if name in top]
        return cache[src]

    def reach(roots: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = [name for src in roots for name in needs(src)]
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack += needs(top[name])
        return seen

    wanted = reach([src for dest, src in kept if dest not in top])
    return reach([src for _, src in dropped]) - wanted


# Exceptions to TRIM["paths"]: `import torch` checks that its shared-memory helper exists.
KEEP = ["torch/bin/torch_shm_manager"]


def keep_entry(dest: str) -> bool:
    """False for a bundle path that TRIM["paths"] leaves out (and KEEP does not bring back)."""
    dest = dest.replace("\\", "/")
    if dest in KEEP:
        return True
    return not any(fnmatch(dest, pattern) for pattern in TRIM["paths"])
