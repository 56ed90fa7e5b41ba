"""`glassbox inspect attribution PROMPT [--reply TEXT] --by token|word|sentence|passage`:
which parts of the prompt made the model give this reply (occlusion, core.engine.attribution).

The prompt is a user message read through the model's chat template (`--raw`: the text as
written). Without `--reply`, the model's own greedy reply is written first and explained.
The estimate goes to stderr before the work starts; Ctrl+C stops it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from core.cli_shape import add_model_options, command, start_engine
from core.engine.attribution_types import (
    GRANULARITIES,
    AttributionRequest,
    AttributionResult,
    LabeledSpan,
)
from core.engine.client import EngineClient
from core.engine.completion_types import CompletionDone, CompletionRequest
from core.engine.types import ChatMessage, SamplingSettings
from core.errors import AttributionError, GlassboxError


def add_view(views: Any) -> None:
    """Register `attribution` under `glassbox inspect`."""
    p = views.add_parser("attribution", help="which parts of the prompt made the reply "
                         "(remove each in turn, measure the reply's log-probability)")
    p.add_argument("prompt")
    p.add_argument("--reply", default=None,
                   help="the reply to explain (default: the model's own greedy reply)")
    p.add_argument("--by", choices=GRANULARITIES, default="word")
    p.add_argument("--raw", action="store_true",
                   help="read the prompt as written, not as a chat message")
    p.add_argument("--span", action="append", default=[], metavar="START:END",
                   help="a passage's character span in the prompt as the model reads it "
                        "(repeatable; for --by passage)")
    p.add_argument("--top", type=int, default=10, help="units listed in the text output")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_model_options(p)
    p.set_defaults(func=run)


def _spans(raw: list[str]) -> tuple[LabeledSpan, ...]:
    spans = []
    for number, text in enumerate(raw, start=1):
        try:
            start, end = (int(x) for x in text.split(":"))
        except ValueError:
            raise GlassboxError(f"--span {text!r}: write it as START:END, character "
                                "offsets such as 120:480.") from None
        spans.append(LabeledSpan(start, end, str(number)))
    return tuple(spans)


def build_request(engine: EngineClient, args: argparse.Namespace) -> AttributionRequest:
    if not args.prompt.strip():  # a chat template around nothing is not a prompt
        raise AttributionError("The prompt is empty: give the prompt whose parts should be "
                               "weighed.")
    messages: tuple[ChatMessage, ...] = ()
    if not args.raw:
        system = (ChatMessage("system", args.system),) if args.system else ()
        messages = (*system, ChatMessage("user", args.prompt))
    reply = args.reply
    if reply is None:
        greedy = SamplingSettings(temperature=0.0, max_tokens=args.max_tokens)
        done = [e for e in engine.complete(CompletionRequest(
            prompt=args.prompt if args.raw else "", messages=messages, sampling=greedy))
                if isinstance(e, CompletionDone)]
        reply = done[-1].text if done else ""
    return AttributionRequest(prompt=args.prompt if args.raw else "", messages=messages,
                              reply=reply, by=args.by, spans=_spans(args.span))


def to_json(result: AttributionResult) -> dict[str, Any]:
    est = result.estimate
    return {
        "by": result.by, "prompt": result.prompt_text, "reply": result.reply_text,
        "baseline_logprob": result.baseline,
        "units": [{"index": u.index, "text": u.text, "start": u.start, "end": u.end,
                   "scored": u.scored, "score": u.score, "label": u.label,
                   "sentence_scores": list(u.sentence_scores)} for u in result.units],
        "ranked": [u.index for u in result.ranked()],
        "reply_sentences": [result.reply_text[s.start:s.end] for s in result.sentences],
        "cancelled": result.cancelled, "decoded_tokens": result.decoded_tokens,
        "seconds": result.seconds,
        "estimate": {"decode_tokens": est.decode_tokens,
                     "decode_tokens_without_reuse": est.decode_tokens_without_reuse,
                     "tokens_per_s": est.tokens_per_s, "seconds": est.seconds},
    }


def to_text(result: AttributionResult, top: int) -> str:
    lines = [f"reply: {result.reply_text.strip()!r} (log-probability {result.baseline:.3f})",
             f"strongest of {sum(u.scored for u in result.units)} {result.by} units "
             "(drop in the reply's log-probability when removed):"]
    lines += [f"{u.score:+9.3f}  {u.text.strip()!r}" for u in result.ranked()[:top]]
    if result.cancelled:
        lines.append(f"(stopped after {result.done} units)")
    return "\n".join(lines)


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with start_engine(args) as engine:
        request = build_request(engine, args)
        err.write(f"{engine.attribution_estimate(request).describe()}\n")
        result = None
        for event in engine.attribute(request):
            if isinstance(event, AttributionResult):
                result = event
        assert result is not None
        out.write((json.dumps(to_json(result), ensure_ascii=False) if args.json
                   else to_text(result, args.top)) + "\n")
        return 0
