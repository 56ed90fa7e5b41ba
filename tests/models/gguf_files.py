"""Small valid GGUF files for tests, written with the `gguf` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_LAYER, N_CTX_TRAIN, N_EMBD, N_HEAD, N_HEAD_KV = 2, 2048, 64, 4, 2


def write_gguf(path: Path, *, chat_template: bool = True, tensors: int = 3,
               licence: str | None = "apache-2.0", arch: str = "llama") -> Path:
    """A small but valid GGUF: real header, metadata and F32 tensors (a few kB)."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("Tiny Test Model")
    writer.add_block_count(N_LAYER)
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    if licence:
        writer.add_license(licence)
    if chat_template:
        writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    for i in range(tensors):
        writer.add_tensor(f"blk.{i}.weight", np.full((8, 16), i, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


TENSOR_PARAMS = 8 * 16
