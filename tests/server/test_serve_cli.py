"""`glassbox serve` as a person runs it: a real process, a free port, the key from the
environment, the official client, then Ctrl+C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from live_server import WAIT_S

ROOT = Path(__file__).resolve().parents[2]
KEY = "cli-test-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def glassbox_serve(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GLASSBOX_HOME": str(home), "GLASSBOX_API_KEY": KEY}
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), "serve", *args],
                            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def wait_for_health(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not answer /health")


def test_serve_answers_the_openai_client_and_stops_on_ctrl_c(glassbox_home: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = glassbox_serve(glassbox_home, "--port", str(port), "--max-tokens", "64")
    try:
        wait_for_health(url, process)
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0,
                               timeout=WAIT_S)
        model = client.models.list().data[0].id
        reply = client.chat.completions.create(
            model=model, max_tokens=4, messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content is not None
        with_no_key = httpx.get(url + "/v1/models", timeout=WAIT_S)
        assert with_no_key.status_code == 401
        with pytest.raises(openai.BadRequestError) as too_many:  # --max-tokens holds
            client.chat.completions.create(model=model, max_tokens=65,
                                           messages=[{"role": "user", "content": "Hi"}])
        assert too_many.value.body["param"] == "max_tokens"  # type: ignore[index]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, err
    assert f"Serving {model} at {url}/v1" in out
    assert f"curl {url}/v1/chat/completions" in out and "OpenAI(base_url=" in out
    assert KEY not in out + err  # the key stays out of the terminal's scrollback
    assert out.rstrip().endswith("Stopped.")


def test_serve_says_when_the_port_is_taken(glassbox_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = glassbox_serve(glassbox_home, "--port", str(port))
        out, err = process.communicate(timeout=WAIT_S)
    assert process.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in err
    assert "Traceback" not in err and "Serving" not in out
