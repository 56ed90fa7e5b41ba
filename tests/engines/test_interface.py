"""RemoteEngine stands where an EngineClient stands (core.cli_shape hands one to ask, chat and
compare): every public name of the local client exists on it with parameters in the same
order, so a caller written for one works with the other."""

from __future__ import annotations

import inspect

from core.engine.client import EngineClient
from core.engine.remote import RemoteEngine

# Present on both, but meaning something else remotely (load raises NeedsLocalModel).
_VARIADIC_ON_PURPOSE = {"load", "attention", "logit_lens", "anatomy", "weight_histogram",
                        "set_lora_scales"}


def test_every_public_name_of_the_local_client_exists() -> None:
    public = {n for n in dir(EngineClient) if not n.startswith("_")}
    missing = sorted(n for n in public if not hasattr(RemoteEngine, n))
    assert missing == []


def test_parameters_match_where_they_are_spelled_out() -> None:
    for name, member in inspect.getmembers(EngineClient, inspect.isfunction):
        if name.startswith("_") or name in _VARIADIC_ON_PURPOSE:
            continue
        local = list(inspect.signature(member).parameters)
        remote = list(inspect.signature(getattr(RemoteEngine, name)).parameters)
        assert remote == local, name
