"""Compare with a local and a remote variant side by side: the bundled model on the local
engine beside the same model behind a real `glassbox serve` on 127.0.0.1. Greedy decoding on
the same llama.cpp gives the same text in both columns, which is what says the remote column
really ran the prompt as the local one did (not merely that it answered)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from remote_fakes import free_port

from core.cli import main
from core.engine.client import EngineClient
from core.engine.types import SamplingSettings
from core.prompts.compare import (
    Variant,
    VariantDone,
    VariantFailed,
    VariantStarted,
    run_comparison,
)
from core.remote_engines import EngineRegistry
from core.server.local_server import LocalServer

PROMPT = "Name three colours of the rainbow."
GREEDY = SamplingSettings(temperature=0.0, max_tokens=24, seed=7)


def _columns(engine: EngineClient, variants: list[Variant]) -> dict[int, object]:
    last: dict[int, object] = {}
    started: dict[int, VariantStarted] = {}
    for event in run_comparison(engine, PROMPT, variants, open_remote=EngineRegistry().open):
        if isinstance(event, VariantStarted):
            started[event.index] = event
        elif isinstance(event, VariantDone | VariantFailed):
            last[event.index] = event
    return {"started": started, **last}  # type: ignore[dict-item]


def test_a_local_and_a_remote_variant_answer_side_by_side(
        engine: EngineClient, glassbox_server: LocalServer) -> None:
    EngineRegistry().add("box", glassbox_server.url + "/v1")
    served = EngineRegistry().open("remote:box")
    try:
        assert served.model is not None
        remote = served.model.path
    finally:
        served.close()
    assert remote.startswith("remote:box/")
    local = engine.model
    assert local is not None
    variants = [Variant("Local", sampling=GREEDY),
                Variant("Remote", sampling=GREEDY, model_path=remote)]
    columns = _columns(engine, variants)
    started = columns["started"]
    assert started[0].model_path == local.path  # type: ignore[index]
    assert started[1].model_path == remote  # type: ignore[index]
    here, there = columns[0], columns[1]
    assert isinstance(here, VariantDone) and isinstance(there, VariantDone), (here, there)
    assert here.text.strip() and here.text == there.text
    assert there.stats.completion_tokens == here.stats.completion_tokens
    # The local engine kept its model: the remote column did not touch it.
    assert engine.model is not None and engine.model.path == local.path


def test_an_unreachable_server_fails_only_its_column(engine: EngineClient) -> None:
    EngineRegistry().add("gone", f"http://127.0.0.1:{free_port()}/v1", model="m")
    variants = [Variant("Remote", sampling=GREEDY, model_path="remote:gone/m"),
                Variant("Local", sampling=GREEDY)]
    columns = _columns(engine, variants)
    failed, done = columns[0], columns[1]
    assert isinstance(failed, VariantFailed) and "127.0.0.1" in failed.message, failed
    assert isinstance(done, VariantDone) and done.text.strip()


def test_a_remote_variant_without_the_saved_engines_is_refused_plainly(
        engine: EngineClient) -> None:
    variants = [Variant("Local", sampling=GREEDY),
                Variant("Remote", sampling=GREEDY, model_path="remote:box/m")]
    events = list(run_comparison(engine, PROMPT, variants))
    failed = [e for e in events if isinstance(e, VariantFailed)]
    assert len(failed) == 1 and failed[0].index == 1
    assert "saved engines" in failed[0].message


def test_cli_compare_puts_a_saved_engine_beside_the_local_model(
        glassbox_server: LocalServer, model_path: Path) -> None:
    EngineRegistry().add("box", glassbox_server.url + "/v1")
    out, err = io.StringIO(), io.StringIO()
    code = main(["compare", PROMPT, "--model", str(model_path), "--plain", "--also-engine",
                 "box", "--temperature", "0", "--seed", "7", "--max-tokens", "24", "--json",
                 "--no-save"], out, err)
    assert code == 0, err.getvalue()
    rows = json.loads(out.getvalue())["variants"]
    assert [r["status"] for r in rows] == ["complete", "complete"]
    assert rows[0]["model_path"] is None and rows[1]["model_path"] == "remote:box"
    assert rows[1]["label"].startswith("Plain · box")
    assert rows[0]["text"].strip() and rows[0]["text"] == rows[1]["text"]
