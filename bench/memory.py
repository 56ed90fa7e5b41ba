"""Resident memory of the app (window process and its children: the engine and the document
parser) against bare processes doing the same work with the raw libraries.

- window shown, no workers yet: against a bare QApplication with an empty QMainWindow;
- the bundled chat model loaded (window + engine process): against a bare `llama_cpp.Llama` of
  the same model and context in a plain interpreter, plus the bare window;
- the peak while the first-run sample guide indexes (parser process, embedder): against a bare
  SentenceTransformer encoding the guide's chunk texts, plus the bare window.
Each side runs ROUNDS times in fresh processes; medians and spreads as everywhere in bench/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench._probe_run import REPO, probe
from bench._stats import figure
from core.defaults import DEFAULT_N_CTX
from core.models.bundled import default_chat_model

ROUNDS = 3
N_CTX = DEFAULT_N_CTX  # what the app loads the bundled model with by default

_BARE_WINDOW = """
import json, time, psutil, sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1]); w = QMainWindow(); w.show()
end = time.perf_counter() + 1.0
while time.perf_counter() < end:
    app.processEvents(); time.sleep(0.01)
print(json.dumps({"mb": psutil.Process().memory_info().rss / 2**20}))
"""

_BARE_MODEL = """
import json, psutil, llama_cpp
llm = llama_cpp.Llama({path!r}, n_ctx={n_ctx}, verbose=False)
llm.eval(llm.tokenize(b"Hello there"))
print(json.dumps({{"mb": psutil.Process().memory_info().rss / 2**20}}))
"""

_BARE_ENCODE = """
import json, resource
from core.rag.embed import embedding_model_path
from core.rag.chunk import Chunker
from core.rag.parse import parse_file
from core.rag.sample import guide_files
from sentence_transformers import SentenceTransformer
chunker = Chunker()
texts = [c.text for f in guide_files() for c in chunker.chunk(parse_file(f))]
model = SentenceTransformer(str(embedding_model_path()), device="cpu")
model.encode(texts, batch_size=32)
print(json.dumps({"mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _bare(script: str) -> float:
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=600,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    if done.returncode != 0:
        raise RuntimeError(f"bare memory probe failed: {done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["mb"])


def run() -> dict[str, Any]:
    shown, loaded, indexing = [], [], []
    bare_window, bare_model, bare_encode = [], [], []
    model_script = _BARE_MODEL.format(path=str(default_chat_model()), n_ctx=N_CTX)
    for _ in range(ROUNDS):
        ours = probe("memory")
        shown.append(ours["shown_mb"])
        loaded.append(ours["model_loaded_mb"])
        indexing.append(ours["indexing_peak_mb"])
        window = _bare(_BARE_WINDOW)
        bare_window.append(window)
        bare_model.append(window + _bare(model_script))
        bare_encode.append(window + _bare(_BARE_ENCODE))
    return {"name": "memory", "figures": [
        figure("resident memory, window shown (no workers yet)", shown, bare_window,
               "bare QApplication + empty QMainWindow", unit="MB"),
        figure("resident memory, bundled model loaded (window + engine process)", loaded,
               bare_model, f"bare window + a bare `llama_cpp.Llama` (n_ctx {N_CTX}) in "
               "another process", unit="MB"),
        figure("resident memory, peak while the sample guide indexes", indexing, bare_encode,
               "bare window + bare `SentenceTransformer.encode` of the guide's chunks (peak)",
               unit="MB"),
    ]}
