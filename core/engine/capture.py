"""Copying graph nodes out of the running llama.cpp model: attention probabilities, residuals.

A capture runs on a second llama.cpp context made from the loaded model's weights (no second
copy of them), with an evaluation callback (`cb_eval`) that llama.cpp calls for every graph
node: once to ask whether we want the node, then, for the ones we asked for, once its data is
computed. See /work/shared/LLAMA_INTERNALS.md for the facts this relies on. Why a second
context, not the chat one:
- flash attention fuses the softmax away, so the capture context turns it off (and keeps its
  KV cache F16: a quantized V cache forces flash attention back on); chat keeps its settings;
- a callback on the chat context would cost a Python call per node on every generated token.

Runs in the engine child only (imports numpy and llama_cpp).
"""

from __future__ import annotations

import ctypes
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import CaptureError, GlassboxError

# Graph node names carry their layer ("kq_soft_max-12"); builds before 2025 said kq_soft_max_ext.
_NODE = re.compile(rb"^(kq_soft_max(?:_ext)?|l_out)-(\d+)$")
_GGML_TYPE_F32 = 0
_GGML_TYPE_F16 = 1
_CTX_STEP = 256  # capture contexts grow in steps, so a slightly longer prompt re-uses one
MAX_CAPTURE_TOKENS = 2048


class _TensorHead(ctypes.Structure):
    # Only the stable start of `struct ggml_tensor` (ggml.h): type, buffer, ne[4], nb[4]. The
    # rest depends on build options (GGML_MAX_NAME, GGML_MAX_SRC), so it is never mapped here.
    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * 4),
        ("nb", ctypes.c_size_t * 4),
    ]


class _Ggml:
    """The few libggml functions a capture needs, with their C signatures set once."""

    def __init__(self) -> None:
        from llama_cpp._ggml import libggml

        self.get_name = libggml.ggml_get_name
        self.get_name.argtypes = [ctypes.c_void_p]
        self.get_name.restype = ctypes.c_char_p
        self.nbytes = libggml.ggml_nbytes
        self.nbytes.argtypes = [ctypes.c_void_p]
        self.nbytes.restype = ctypes.c_size_t
        self.nelements = libggml.ggml_nelements
        self.nelements.argtypes = [ctypes.c_void_p]
        self.nelements.restype = ctypes.c_int64
        self.tensor_get = libggml.ggml_backend_tensor_get
        self.tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_size_t]
        self.tensor_get.restype = None


_ggml: _Ggml | None = None


def _lib() -> _Ggml:
    global _ggml
    if _ggml is None:
        _ggml = _Ggml()
    return _ggml


def read_f32_tensor(t: int) -> np.ndarray:
    """Copy an F32 ggml tensor into a new numpy array (C order: `ne` reversed).

    Checks the mapped struct against libggml's own element and byte counts, so a layout change
    in a new llama-cpp-python raises here instead of returning garbage.
    """
    lib = _lib()
    head = _TensorHead.from_address(t)
    ne = [int(n) for n in head.ne]
    nb = [int(n) for n in head.nb]
    count = math.prod(ne)
    nbytes = int(lib.nbytes(t))
    if (count != int(lib.nelements(t)) or any(n < 1 for n in ne) or nb[0] not in (2, 4)
            or nbytes < count * nb[0]):
        raise CaptureError(
            "The tensor layout of this llama-cpp-python build is not the one Glassbox maps "
            f"(ne={ne}, nb={nb}, {nbytes} bytes): model internals cannot be read safely.")
    if head.type != _GGML_TYPE_F32 or nb != [4, 4 * ne[0], 4 * ne[0] * ne[1],
                                             4 * ne[0] * ne[1] * ne[2]]:
        raise CaptureError(f"Graph node {lib.get_name(t)!r} is not a contiguous F32 tensor "
                           f"(type {head.type}); this build of llama.cpp is not supported.")
    out = np.empty(tuple(reversed(ne)), dtype=np.float32)
    lib.tensor_get(t, out.ctypes.data, 0, count * 4)
    return out


@dataclass
class Captured:
    """What one capture run copied out, per layer."""

    attention: dict[int, np.ndarray] = field(default_factory=dict)  # (head, query, key)
    residual: dict[int, np.ndarray] = field(default_factory=dict)  # (position, n_embd)
    logits: np.ndarray | None = None  # (position, n_vocab), the model's own output


# Where the engine's runner keeps the LoRA adapters it applied to a Llama's own context, as
# (adapter pointer, scale) pairs: a capture context is a second context over the same weights,
# and llama.cpp applies adapters per context, so it must be given them too.
LORAS_ATTR = "glassbox_loras"


def applied_loras(llm: Any) -> list[tuple[Any, float]]:
    """The adapters `llm`'s own context runs with: the runner's, else the one llama-cpp-python
    applied itself (`Llama(lora_path=..., lora_scale=...)`)."""
    pairs = getattr(llm, LORAS_ATTR, None)
    if pairs is not None:
        return list(pairs)
    single = getattr(llm, "_lora_adapter", None)
    return [(single, float(llm.lora_scale))] if single else []


class TensorCapture:
    """A capture context over one loaded `Llama`. Owned by the engine child's one thread.

    Lives as long as the model (the Inspector keeps one and `close()`s it); llama-cpp-python
    also frees it before the model's weights if the model is closed first.
    """

    def __init__(self, llm: Any) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._llama_cpp = llama_cpp
        self._internals = _internals
        self._llm = llm
        self._ctx: Any = None
        self._n_ctx = 0
        # The ctypes callback object must outlive the native context that calls it, or the
        # process crashes: it is kept on self and dropped only after the context is freed.
        self._callback = llama_cpp.ggml_backend_sched_eval_callback(self._on_node)
        self._want_attention: frozenset[int] = frozenset()
        self._want_residual = False
        self._n_keys = 0
        self._query_start = 0
        self._mean_heads = False
        # LoRA adapters belong to a context, not to the weights: a capture context made from
        # the model would read the base model unless they are set on it too.
        self._result = Captured()
        self._error: BaseException | None = None

    # -- the callback -----------------------------------------------------------------------
    def _on_node(self, t: int, ask: bool, _user: Any) -> bool:
        # Called ~1,000 times per decode with ask=True: a name read and one regex, nothing else.
        # An exception would make ctypes return 0, which cancels the graph: catch everything.
        try:
            found = _NODE.match(_lib().get_name(t) or b"")
            if found is None:
                return not ask  # ask: "no thanks"; a data call for it (never happens): go on
            layer = int(found.group(2))
            is_attention = found.group(1) != b"l_out"
            if ask:
                return (layer in self._want_attention) if is_attention else self._want_residual
            data = read_f32_tensor(t)
            if is_attention:
                # (1, head, query, key) over the padded KV length: keep the real keys and the
                # asked-for queries only, so a long prompt holds no more than it must.
                probs = data.reshape(data.shape[-3:])[:, self._query_start:, : self._n_keys]
                self._result.attention[layer] = (probs.mean(axis=0, keepdims=True)
                                                 if self._mean_heads
                                                 else np.ascontiguousarray(probs))
            else:
                self._result.residual[layer] = data.reshape(-1, data.shape[-1])
            return True
        except BaseException as exc:  # noqa: BLE001 - reported after decode returns
            self._error = exc
            return False  # stop the graph: the capture has failed anyway

    # -- the context ------------------------------------------------------------------------
    def _context(self, n_tokens: int) -> Any:
        if self._ctx is not None and n_tokens <= self._n_ctx:
            return self._ctx
        self._free_context()
        lib = self._llama_cpp
        n_ctx = max(_CTX_STEP, -(-n_tokens // _CTX_STEP) * _CTX_STEP)
        params = lib.llama_context_params.from_buffer_copy(self._llm.context_params)
        params.n_ctx = n_ctx
        # One micro-batch for the whole prompt: every query row of a layer arrives in one node.
        params.n_batch = params.n_ubatch = n_ctx
        params.n_seq_max = 1
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.type_k = params.type_v = _GGML_TYPE_F16
        params.embeddings = False
        params.cb_eval = self._callback
        params.cb_eval_user_data = None
        try:
            self._ctx = self._internals.LlamaContext(model=self._llm._model, params=params)
        except ValueError as exc:
            raise CaptureError(f"llama.cpp could not create a {n_ctx}-token capture context "
                               f"(out of memory?): {exc}") from exc
        self._n_ctx = n_ctx
        return self._ctx

    def _apply_loras(self, ctx: Any) -> None:
        """The chat context's adapters at their current scales (they change without a reload),
        so attention, the lens and drift read the model the chat runs."""
        lib = self._llama_cpp
        pairs = applied_loras(self._llm)
        if not pairs:
            lib.llama_set_adapters_lora(ctx.ctx, None, 0, None)
            return
        n = len(pairs)
        pointers = (lib.llama_adapter_lora_p_ctypes * n)(*(p for p, _ in pairs))
        scales = (ctypes.c_float * n)(*(scale for _, scale in pairs))
        if lib.llama_set_adapters_lora(ctx.ctx, pointers, n, scales):
            raise CaptureError("llama.cpp refused the LoRA adapters on the capture context.")

    def _free_context(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None
            self._n_ctx = 0

    def close(self) -> None:
        self._free_context()

    # -- a run ------------------------------------------------------------------------------
    def run(self, ids: list[int], attention_layers: frozenset[int] = frozenset(),
            residual: bool = False, all_logits: bool = False, query_start: int = 0,
            mean_heads: bool = False) -> Captured:
        """Evaluate `ids` from an empty cache and return the asked-for nodes of every layer.

        `all_logits` keeps the model's logits at every position; it is also what makes the last
        layer's residual cover every position (llama.cpp drops the rows nobody reads there).
        Attention keeps query rows from `query_start` on, averaged over heads if `mean_heads`.
        """
        if not ids:
            raise CaptureError("Nothing to capture: the text has no tokens.")
        if len(ids) > MAX_CAPTURE_TOKENS:
            raise CaptureError(f"The text has {len(ids):,} tokens; captures are limited to "
                               f"{MAX_CAPTURE_TOKENS:,}. Use a shorter text.")
        ctx = self._context(len(ids))
        lib = self._llama_cpp
        self._apply_loras(ctx)
        lib.llama_memory_clear(lib.llama_get_memory(ctx.ctx), True)
        batch = self._internals.LlamaBatch(n_tokens=len(ids), embd=0, n_seq_max=1)
        try:
            batch.set_batch(ids, n_past=0, logits_all=all_logits)
            self._want_attention = frozenset(attention_layers)
            self._want_residual = residual
            self._n_keys = len(ids)
            self._query_start, self._mean_heads = query_start, mean_heads
            self._result, self._error = Captured(), None
            try:
                ctx.decode(batch)
            except RuntimeError as exc:
                if self._error is None:
                    raise CaptureError(f"llama.cpp failed to evaluate the text: {exc}") from exc
            if self._error is not None:
                if isinstance(self._error, GlassboxError):
                    raise self._error
                raise CaptureError(f"Reading the model's internals failed: {self._error!r}") \
                    from self._error
            result = self._result
            if all_logits:
                n_vocab = self._llm.n_vocab()
                ptr = lib.llama_get_logits(ctx.ctx)
                result.logits = np.ctypeslib.as_array(ptr, shape=(len(ids), n_vocab)).copy()
        finally:
            batch.close()
            self._want_attention, self._want_residual = frozenset(), False
            self._result = Captured()  # the caller owns the arrays now; drop our references
        missing = set(attention_layers) - set(result.attention)
        if missing:
            raise CaptureError(
                f"llama.cpp produced no attention probabilities for layers {sorted(missing)}; "
                "this model's architecture may compute attention in a fused kernel.")
        return result
