"""What the packaged app leaves out: modules it never imports and files it never opens.

Used by glassbox.spec (and by tests/packaging, which check the result). Every entry was tried
against `Glassbox --self-test` and the startup probe: remove one from here if a build starts
failing for want of it.
"""

from __future__ import annotations

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
        "torch/test/*",  # torch's own test binaries and data
        "torch/bin/*",  # test executables and protoc
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


def keep_entry(dest: str) -> bool:
    """False for a bundle path that TRIM["paths"] leaves out."""
    dest = dest.replace("\\", "/")
    return not any(fnmatch(dest, pattern) for pattern in TRIM["paths"])
