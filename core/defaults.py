"""Figures several layers share, written once: the default context and the KV cache's size.

No imports: the engine, the model library, the CLI, the desktop and the benchmarks all read
these, and none of them may pull the others in to get a number.
"""

from __future__ import annotations

# The context window, in tokens, a model loads with until the user picks another in the
# Models tab (and the one `glassbox` uses when neither --ctx nor a saved setting says).
DEFAULT_N_CTX = 4096

# KV-cache element types llama.cpp accepts for both K and V, and their bytes per element:
# f16 is two bytes; q8_0 and q4_0 store blocks of 32 values with one f16 scale
# (32 + 2 and 16 + 2 bytes a block).
KV_TYPES = ("f16", "q8_0", "q4_0")
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


def kv_bytes_per_element(kv_type: str) -> float:
    """Bytes one cached K or V element takes; an unknown type counts as f16."""
    return KV_BYTES_PER_ELEMENT.get(kv_type.lower(), KV_BYTES_PER_ELEMENT["f16"])
