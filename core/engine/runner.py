"""The model itself: llama-cpp-python behind one narrow adapter. Runs inside the engine child."""

from __future__ import annotations

import codecs
import ctypes
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.defaults import DEFAULT_N_CTX, kv_bytes_per_element
from core.engine.budget import fit_messages, reply_reserve
from core.engine.capture import LORAS_ATTR
from core.engine.chat_template import ChatTemplate
from core.engine.completion_types import CompletionEvent, CompletionRequest
from core.engine.introspect import Inspector
from core.engine.memory_check import check_context_fits, context_failure
from core.engine.types import (
    ChatMessage,
    DoneEvent,
    FinishReason,
    GenerationEvent,
    GenerationStats,
    LoraInfo,
    ModelInfo,
    SamplingSettings,
    TokenEvent,
    check_lora_scale,
)
from core.errors import AdapterError, ModelLoadError, PromptError
from core.gguf.reader import read_header
from core.gguf.tensors import read_tensor_table
from core.llama_log import open_llama
from core.models.adapters import check_adapter

log = logging.getLogger(__name__)


def default_threads() -> int:
    # llama.cpp's decode is memory-bound; one thread a core, not per hyper-thread.
    return max(1, (os.cpu_count() or 2))


def adapter_name(path: str | Path) -> str:
    """What an adapter is called in the window: its file's stem, or for the fine-tune lab's
    runs (every one saves `<run>/adapter.gguf`) the run's name."""
    file = Path(path)
    return file.parent.name if file.stem == "adapter" and file.parent.name else file.stem


class ModelRunner:
    """One loaded GGUF model with its chat template. Owned by one thread."""

    def __init__(self, path: str | Path, n_ctx: int = DEFAULT_N_CTX, n_gpu_layers: int = 0, *,
                 n_threads: int | None = None, flash_attn: bool = False,
                 kv_type: str = "f16", loras: Sequence[tuple[str | Path, float]] = (),
                 control_vector: tuple[str | None, float, tuple[int, int] | None] | None = None,
                 ) -> None:
        header = read_header(path)
        import llama_cpp  # heavy: imported only where a model really loads

        self._llama_cpp = llama_cpp
        cache_type = getattr(llama_cpp, f"GGML_TYPE_{kv_type.upper()}", None)
        if cache_type is None:
            raise ModelLoadError(f"Unknown KV-cache type {kv_type!r}: use f16, q8_0 or q4_0.")

        check_context_fits(header, Path(path), n_ctx, n_gpu_layers, kv_bytes_per_element(kv_type))
        started = time.perf_counter()
        try:
            self._llm = open_llama(
                str(path),
                n_ctx=n_ctx,
                n_gpu_layers=n_gpu_layers,
                n_threads=n_threads or default_threads(),
                flash_attn=flash_attn,
                type_k=cache_type,
                # llama.cpp refuses a quantized V cache without flash attention; K alone works.
                type_v=cache_type if flash_attn else None,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            if "llama_context" in str(exc):
                raise context_failure(Path(path), n_ctx, exc) from exc
            arch = str(header.metadata.get("general.architecture", "unknown"))
            raise ModelLoadError(
                f"llama.cpp could not load {Path(path).name}: its header reads as GGUF, but "
                f"its contents do not make a model of architecture {arch!r} that this "
                "llama.cpp can run (a damaged or hand-edited file, or an architecture newer "
                f"than this Glassbox). Get the file again or pick another model. ({exc})"
            ) from exc
        self._inspector: Inspector | None = None
        self._adapters: list[tuple[LoraInfo, Any]] = []  # with llama.cpp's adapter pointer
        try:
            self._attach(Path(path), loras)
        except BaseException:
            self.close()
            raise
        load_s = time.perf_counter() - started
        meta = self._llm.metadata
        self._template = ChatTemplate(
            meta.get("tokenizer.chat_template"),
            bos_token=self._piece(self._llm.token_bos()),
            eos_token=self._piece(self._llm.token_eos()),
        )
        arch = str(header.metadata.get("general.architecture", "unknown"))
        self.info = ModelInfo(
            path=str(path),
            name=Path(path).stem,  # what the user picked; general.name is often cryptic
            architecture=arch,
            n_ctx=self._llm.n_ctx(),
            n_ctx_train=int(header.metadata.get(f"{arch}.context_length", 0) or 0),
            n_params=int(self._llm._model.n_params()),
            size_bytes=header.actual_size,
            has_chat_template=self._template.from_model,
            load_s=load_s,
            template_tools=self._template.uses_tools,
            loras=tuple(info for info, _ in self._adapters),
        )
        if control_vector is not None:
            try:
                self.set_control_vector(*control_vector)
            except BaseException:
                self.close()
                raise

    @property
    def llm(self) -> Any:
        """The llama-cpp-python `Llama` (for the completion and inspection code beside this)."""
        return self._llm

    @property
    def inspector(self) -> Inspector:
        if self._inspector is None:
            self._inspector = Inspector(self._llm)
        return self._inspector

    def close(self) -> None:
        if self._inspector is not None:
            self._inspector.close()  # its capture context goes before the weights it reads
        if self._adapters:
            # Off the context first, so nothing holds an adapter while it is freed.
            self._llama_cpp.llama_set_adapters_lora(self._llm._ctx.ctx, None, 0, None)
            setattr(self._llm, LORAS_ATTR, [])
            for _, adapter in self._adapters:
                self._llama_cpp.llama_adapter_lora_free(adapter)
            self._adapters = []
        self._llm.close()

    # -- LoRA adapters ----------------------------------------------------------------------
    def _attach(self, base: Path, loras: Sequence[tuple[str | Path, float]]) -> None:
        if not loras:
            return
        base_table = read_tensor_table(base)
        for raw_path, raw_scale in loras:
            path = os.path.abspath(raw_path)
            scale = check_lora_scale(raw_scale, path)
            if not Path(path).is_file():
                raise AdapterError(f"LoRA adapter not found: {path}")
            if any(info.path == path for info, _ in self._adapters):
                raise AdapterError(f"The LoRA adapter {path} is listed twice.")
            check_adapter(path, base_table)
            adapter = self._llama_cpp.llama_adapter_lora_init(
                self._llm._model.model, path.encode("utf-8"))
            if not adapter:  # a NULL pointer: llama.cpp logged why
                raise AdapterError(f"llama.cpp could not apply the LoRA adapter "
                                   f"{Path(path).name} to {base.name} (see the engine log).")
            self._adapters.append((LoraInfo(path, scale, adapter_name(path)), adapter))
        self._apply_adapters()

    def _apply_adapters(self) -> None:
        lib, n = self._llama_cpp, len(self._adapters)
        pointers = (lib.llama_adapter_lora_p_ctypes * n)(*(a for _, a in self._adapters))
        scales = (ctypes.c_float * n)(*(info.scale for info, _ in self._adapters))
        if lib.llama_set_adapters_lora(self._llm._ctx.ctx, pointers, n, scales):
            raise AdapterError("llama.cpp refused to apply the LoRA adapters to the context.")
        # The inspector's capture context reads them from here (core.engine.capture).
        setattr(self._llm, LORAS_ATTR, [(a, info.scale) for info, a in self._adapters])
        # The KV cache holds keys and values computed under the old scales: a prompt prefix
        # reused from it (generate's prefix match, the inspector's cache) would mix the two.
        self._llm.n_tokens = 0
        self._llm._ctx.kv_cache_clear()

    def set_lora_scales(self, scales: Mapping[str, float]) -> ModelInfo:
        """Change loaded adapters' scales (0..LORA_SCALE_MAX) without reloading; keys are
        adapter paths as loaded. Returns the updated info."""
        wanted = {os.path.abspath(p): check_lora_scale(s, p) for p, s in scales.items()}
        loaded = {info.path for info, _ in self._adapters}
        unknown = sorted(set(wanted) - loaded)
        if unknown:
            raise AdapterError(f"No LoRA adapter {unknown[0]} is loaded"
                               + (f" (loaded: {', '.join(sorted(loaded))})." if loaded
                                  else "; load the model with it first."))
        self._adapters = [(replace(info, scale=wanted.get(info.path, info.scale)), adapter)
                          for info, adapter in self._adapters]
        self._apply_adapters()
        self.info = replace(self.info, loras=tuple(info for info, _ in self._adapters))
        return self.info

    def set_control_vector(self, path: str | None, strength: float = 1.0,
                           layers: tuple[int, int] | None = None) -> ModelInfo:
        """Keep a llama.cpp control vector applied to generation (None: none). The file's
        saved layer range is used when `layers` is None. Raises SteeringError."""
        from core.engine import control_vector

        if path is None:
            control_vector.detach(self._llm)
            self.info = replace(self.info, control_vector=None)
        else:
            applied = control_vector.attach(self._llm, path, strength, layers, self.info.name)
            self.info = replace(self.info, control_vector=applied)
        return self.info

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """A rendered prompt's tokens, special tokens read as such, BOS added if it lacks one."""
        bos = self._piece(self._llm.token_bos())
        # Many templates write the BOS text themselves; adding another would double it.
        add_bos = bool(bos) and self._llm._model.add_bos_token() and not prompt.startswith(bos)
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render_prompt(self, messages: Sequence[ChatMessage],
                      add_generation_prompt: bool = True,
                      tools: list[dict[str, Any]] | None = None) -> str:
        """The exact text the model reads for `messages`: its chat template applied (with
        `tools` where the template reads them)."""
        return self._template.render(messages, add_generation_prompt, tools)

    def count_prompt(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.tokenize_prompt(self._template.render(messages)))

    def generate(
        self,
        messages: Sequence[ChatMessage],
        sampling: SamplingSettings,
        cancelled: Callable[[], bool],
    ) -> Iterator[GenerationEvent]:
        """Stream the reply to `messages`, stopping at end of turn, max_tokens or cancel."""
        if not messages or not messages[-1].content.strip():
            raise PromptError("The message is empty: type something to send.")
        n_ctx = self._llm.n_ctx()
        reserve = reply_reserve(sampling.max_tokens, n_ctx)
        kept, dropped = fit_messages(messages, self.count_prompt, n_ctx, reserve)
        tokens = self.tokenize_prompt(self._template.render(kept))
        self._llm.set_seed(sampling.seed if sampling.seed >= 0 else random.randrange(2**31))
        yield from self._stream(tokens, sampling, cancelled, dropped)

    def complete(self, request: CompletionRequest,
                 cancelled: Callable[[], bool]) -> Iterator[CompletionEvent]:
        """A completion as API clients ask for it (stop strings, grammar, log-probabilities)."""
        from core.engine.completion import stream_completion

        return stream_completion(self, request, cancelled)

    def _stream(
        self,
        tokens: list[int],
        sampling: SamplingSettings,
        cancelled: Callable[[], bool],
        dropped: int,
    ) -> Iterator[GenerationEvent]:
        n_ctx = self._llm.n_ctx()
        limit = min(sampling.max_tokens, n_ctx - len(tokens))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []
        started = time.perf_counter()
        first_at = last_at = started
        count = 0
        finish: FinishReason = "length"
        stream = self._llm.generate(
            tokens,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            temp=sampling.temperature,
            repeat_penalty=sampling.repeat_penalty,
            reset=True,
        )
        for token in stream:
            if cancelled():
                finish = "cancelled"
                break
            if self._llama_cpp.llama_vocab_is_eog(self._llm._model.vocab, token):
                finish = "stop"
                break
            last_at = time.perf_counter()
            if count == 0:
                first_at = last_at
            count += 1
            text = decoder.decode(self._llm.detokenize([token]))
            if text:
                pieces.append(text)
                yield TokenEvent(text)
            if count >= limit:
                break
        tail = decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            yield TokenEvent(tail)
        total = time.perf_counter() - started
        decode_s = last_at - first_at
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            completion_tokens=count,
            ttft_s=(first_at - started) if count else total,
            tokens_per_s=((count - 1) / decode_s) if count > 1 and decode_s > 0 else 0.0,
            total_s=total,
            n_ctx=n_ctx,
            dropped_messages=dropped,
        )
        yield DoneEvent("".join(pieces), finish, stats)
