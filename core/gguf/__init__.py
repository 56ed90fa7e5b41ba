"""GGUF files read in pure Python: the header and metadata (`reader`), the tensor table and
dequantized tensors (`tensors`). Below the engine and the model library, which both read files."""
