"""One model split across two llama.cpp RPC servers answers as one process does.

Two `ggml-rpc-server` processes (upstream's rpc-server) listen on 127.0.0.1; a `llama-server`
loads the bundled model with `--rpc` to both and `-ngl 99`, so its layers live in the two
servers' memory and every token's forward pass crosses both sockets. Glassbox chats with it
through a RemoteEngine (OpenAI kind), greedily, and the text must equal that of the same
llama-server without `--rpc` (one process) and that of Glassbox's own local engine. The split
is checked too: llama-server's load log must show a model buffer on each RPC device, so a
build or flag that silently kept the layers at home fails the test instead of passing it.

The programs come from packaging/build_llama_rpc.sh (`make llama-rpc`): llama.cpp as vendored
by the installed llama-cpp-python, built once per machine into a cache outside the repository
(about 16 CPU-minutes, see the script: too long for every test run). Under `make test` the test
runs when that build is there and is skipped, naming `make llama-rpc`, when it is not; under
`make stress` (GLASSBOX_STRESS=full) a missing build is built first.

All three run on one thread with flash attention off and repeat penalty 1 (llama-server's
default; the local engine is given it). Measured here: over five questions and 642 greedy
tokens, split and single process chose the same token at every step, with the same top-3
log-probabilities (largest difference 0.0): each layer runs the same CPU kernels whichever
process holds it, so the test asks for equal text, not a close one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from stress_level import FULL, ROOT, record, trials

from core.engine.client import EngineClient
from core.engine.remote import RemoteEngine
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings

pytestmark = [pytest.mark.stress, pytest.mark.timeout(3600)]

BUILD = ROOT / "packaging" / "build_llama_rpc.sh"
BUILD_LIMIT_S = 45 * 60
START_WAIT_S = 120.0
N_CTX = 2048
SYSTEM = ChatMessage("system", "You are a helpful assistant.")
QUESTIONS = ["What is the capital of France?",
             "Write a short poem about the sea.",
             "Explain in two sentences why the sky is blue."][:trials(short=1, full=3)]
# Greedy; repeat_penalty 1.0 is llama-server's default and what the OpenAI API cannot change.
GREEDY = SamplingSettings(temperature=0.0, max_tokens=96, seed=7, repeat_penalty=1.0)


def _programs() -> Path:
    """The cached build's bin folder: built here under GLASSBOX_STRESS=full, else skip."""
    env = {**os.environ, "PYTHON": sys.executable}
    found = subprocess.run(["bash", str(BUILD), "--print-dir"], env=env, capture_output=True,
                           text=True, check=False)
    if found.returncode == 0:
        return Path(found.stdout.strip())
    if not FULL:
        pytest.skip(f"llama.cpp's llama-server and ggml-rpc-server are not built in "
                    f"{found.stdout.strip()}: `make llama-rpc` builds them once (about 16 "
                    "CPU-minutes; `make stress` does it too)")
    # Its own process group: a build past the limit is stopped with its compilers.
    build = subprocess.Popen(["bash", str(BUILD)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = build.communicate(timeout=BUILD_LIMIT_S)
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGTERM)
            build.communicate()
    assert build.returncode == 0, err[-4000:]
    return Path(out.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Program:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self, what: str) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({self.proc.returncode}): {self.text()[-3000:]}")


def _start(stack: contextlib.ExitStack, command: list[str], log: Path) -> _Program:
    """Start `command` with its output in `log`; the stack stops it (terminate, then kill)."""
    # llama.cpp logs a lot: a pipe nobody reads would fill and stop the program.
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    stack.callback(_stop, proc)
    return _Program(proc, log)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(program: _Program, what: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while not ready():
        program.check_alive(what)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready in {START_WAIT_S:.0f} s: "
                               + program.text()[-3000:])
        time.sleep(0.2)


def _listening(port: int) -> bool:
    # rpc-server buffers its own start message; a refused connection is the reliable sign.
    # It serves one client at a time, so the probe closes at once.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class _Server:
    url: str
    program: _Program


def _llama_server(stack: contextlib.ExitStack, bin_dir: Path, model: Path, log: Path,
                  rpc: list[str]) -> _Server:
    port = _free_port()
    command = [str(bin_dir / "llama-server"), "-m", str(model), "--host", "127.0.0.1",
               "--port", str(port), "-c", str(N_CTX), "-np", "1", "-t", "1", "-tb", "1",
               "-fa", "off", "-fit", "off", "--no-webui",
               "-lv", "4"]  # the load log, where the layers went, is below the default level
    if rpc:
        command += ["--rpc", ",".join(rpc), "-ngl", "99"]
    server = _Server(f"http://127.0.0.1:{port}", _start(stack, command, log))
    _wait(server.program, "llama-server", lambda: _healthy(server.url))
    return server


@dataclass
class _Servers:
    split: _Server
    single: _Server
    rpc_endpoints: list[str]
    rpc_programs: list[_Program]


@pytest.fixture(scope="module")
def servers(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Servers]:
    bin_dir = _programs()
    logs = tmp_path_factory.mktemp("llama-rpc")
    with contextlib.ExitStack() as stack:
        endpoints: list[str] = []
        rpcs: list[_Program] = []
        for i in range(2):
            port = _free_port()
            program = _start(stack, [str(bin_dir / "ggml-rpc-server"), "-H", "127.0.0.1",
                                     "-p", str(port), "-t", "1"], logs / f"rpc{i}.log")
            _wait(program, f"rpc-server {i}", functools.partial(_listening, port))
            endpoints.append(f"127.0.0.1:{port}")
            rpcs.append(program)
        split = _llama_server(stack, bin_dir, model_path, logs / "split.log", endpoints)
        single = _llama_server(stack, bin_dir, model_path, logs / "single.log", [])
        yield _Servers(split, single, endpoints, rpcs)
        for i, program in enumerate(rpcs):  # a crash mid-test shows here, not as a hang
            program.check_alive(f"rpc-server {i}")


@pytest.fixture(scope="module")
def local(model_path: Path) -> Iterator[EngineClient]:
    """Glassbox's own engine, ended with this module (tests/engines/conftest.py says why)."""
    client = EngineClient()
    client.load(model_path, n_ctx=N_CTX, n_threads=1)
    yield client
    client.close()


def _reply(engine: EngineClient | RemoteEngine, question: str) -> str:
    events = list(engine.generate([SYSTEM, ChatMessage("user", question)], GREEDY))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    return done.text


@contextlib.contextmanager
def _remote(url: str) -> Iterator[RemoteEngine]:
    engine = RemoteEngine(url, n_ctx=N_CTX, name="rpc-split")
    engine.start()
    try:
        yield engine
    finally:
        engine.close()


def test_the_layers_are_on_both_rpc_servers(servers: _Servers) -> None:
    log = servers.split.program.text()
    # "load_tensors: RPC0[127.0.0.1:P] model buffer size = 33.82 MiB": the buffer is named
    # after the device's index on its own server (0 on both) and the server's address.
    sizes = {name: float(mib) for name, mib in re.findall(
        r"(\S+) model buffer size = +([\d.]+) MiB", log)}
    for endpoint in servers.rpc_endpoints:
        on_it = [mib for name, mib in sizes.items() if name.endswith(f"[{endpoint}]")]
        assert on_it and on_it[0] > 1, f"no layers on {endpoint}: {sizes}"
    assert re.search(r"offloaded (\d+)/\1 layers", log), log[-3000:]
    single = re.findall(r"(\S+) model buffer size", servers.single.program.text())
    assert single and not any("RPC" in name for name in single), single
    for program in servers.rpc_programs:  # our readiness probe, then llama-server
        assert program.text().count("Accepted client connection") >= 2, program.text()


def test_split_and_single_process_give_the_same_text(servers: _Servers,
                                                     local: EngineClient) -> None:
    started = time.perf_counter()
    with _remote(servers.split.url) as split, _remote(servers.single.url) as single:
        for question in QUESTIONS:
            at_home = _reply(local, question)
            one = _reply(single, question)
            two = _reply(split, question)
            assert one.strip()
            assert two == one, (question, one, two)
            assert one == at_home, (question, at_home, one)
    record("rpc_split", {"questions": len(QUESTIONS), "max_tokens": GREEDY.max_tokens,
                         "identical": True, "seconds": round(time.perf_counter() - started, 1)})
