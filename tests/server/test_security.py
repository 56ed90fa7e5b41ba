"""The security defaults: loopback unless there is a key, keys checked (Bearer or x-api-key),
CORS off unless origins are listed, and nothing of a request written to disk unless asked."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from live_server import WAIT_S, assert_openai_error, model_name, serving

from core.cli import main
from core.server.config import ServerConfig, ServerConfigError
from core.server.local_server import LocalServer

KEY = "test-key-" + uuid.uuid4().hex
ORIGIN = "http://localhost:5173"


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-log") / "requests.jsonl"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, log_file: Path) -> Iterator[LocalServer]:
    """A server with a key, one CORS origin and a request log file."""
    with serving(tmp_path_factory.mktemp("keyed-home"), api_key=KEY, cors_origins=(ORIGIN,),
                 log_path=log_file) as srv:
        yield srv


def ask(server: LocalServer, marker: str, **headers: str) -> httpx.Response:
    body = {"model": model_name(server), "max_tokens": 3,
            "messages": [{"role": "user", "content": f"Repeat {marker}"}]}
    return httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers,
                      timeout=WAIT_S)


# -- where it listens --------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20"])
def test_an_open_address_needs_a_key(host: str) -> None:
    with pytest.raises(ServerConfigError, match="API key"):
        LocalServer(ServerConfig(host=host, port=0))
    ServerConfig(host=host, api_key="k").check()  # with a key it may


def test_the_cli_refuses_an_open_address_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLASSBOX_API_KEY", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"], out, err) != 0
    assert "glassbox: error:" in err.getvalue() and "--api-key" in err.getvalue()
    assert "Serving" not in out.getvalue()


def test_the_cli_takes_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.cli import build_parser
    from core.cli_serve import config_from

    monkeypatch.setenv("GLASSBOX_API_KEY", KEY)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0"])
    assert config_from(args).api_key == KEY
    given = build_parser().parse_args(["serve", "--api-key", "other"])
    assert config_from(given).api_key == "other"  # the option wins


# -- keys --------------------------------------------------------------------------------------
def test_requests_without_the_right_key_are_401(keyed: LocalServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"},
                    {"x-api-key": "wrong"}, {"Authorization": "Bearer " + KEY[:-1]}):
        error = assert_openai_error(ask(keyed, "x", **headers), 401)
        assert error["code"] == "invalid_api_key"
    models = httpx.get(keyed.url + "/v1/models", timeout=WAIT_S)
    assert_openai_error(models, 401)
    # A route that does not exist says nothing about itself either.
    assert httpx.get(keyed.url + "/v1/secret", timeout=WAIT_S).status_code == 401


def test_the_right_key_passes_as_bearer_or_x_api_key(keyed: LocalServer) -> None:
    assert ask(keyed, "x", Authorization=f"Bearer {KEY}").status_code == 200
    assert ask(keyed, "x", **{"x-api-key": KEY}).status_code == 200


def test_the_openai_client_with_and_without_the_key(keyed: LocalServer) -> None:
    wrong = openai.OpenAI(base_url=keyed.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    right = openai.OpenAI(base_url=keyed.url + "/v1", api_key=KEY, max_retries=0)
    assert [m.id for m in right.models.list().data] == [model_name(keyed)]


def test_health_is_open(keyed: LocalServer) -> None:
    health = httpx.get(keyed.url + "/health", timeout=WAIT_S)
    assert health.status_code == 200 and health.json()["status"] == "ok"


# -- CORS --------------------------------------------------------------------------------------
def test_cors_is_off_by_default(http: httpx.Client) -> None:
    reply = http.get("/v1/models", headers={"Origin": ORIGIN})
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers
    preflight = http.options("/v1/chat/completions", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_answers_a_listed_origin_only(keyed: LocalServer) -> None:
    def models(origin: str) -> httpx.Response:
        return httpx.get(keyed.url + "/v1/models", timeout=WAIT_S,
                         headers={"Origin": origin, "Authorization": f"Bearer {KEY}"})

    assert models(ORIGIN).headers.get("access-control-allow-origin") == ORIGIN
    assert "access-control-allow-origin" not in models("https://evil.example").headers
    # A browser's preflight carries no key; it is answered, for the listed origin only.
    preflight = httpx.options(keyed.url + "/v1/chat/completions", timeout=WAIT_S, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers.get("access-control-allow-origin") == ORIGIN
    refused = httpx.options(keyed.url + "/v1/chat/completions", timeout=WAIT_S, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers


# -- the disk ----------------------------------------------------------------------------------
def files_under(folder: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file()}


def holding(folder: Path, marker: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]


def test_nothing_is_written_without_a_log_file(tmp_path: Path, glassbox_home: Path) -> None:
    server_home = tmp_path / "server-home"
    with serving(server_home) as server:
        before = {**files_under(server_home), **files_under(glassbox_home)}
        marker = "MARKER" + uuid.uuid4().hex
        assert ask(server, marker).status_code == 200
        assert server.log.recent()[0].messages[0]["content"].endswith(marker)  # in memory
        after = {**files_under(server_home), **files_under(glassbox_home)}
    # The engine may touch an empty lock file (generating.lock: a generation is under way);
    # no file may gain content.
    changed = [p for p in after if after[p] != before.get(p)]
    assert [p for p in changed if after[p][0] > 0] == []
    assert holding(server_home, marker) == [] and holding(glassbox_home, marker) == []
    assert holding(tmp_path, marker) == []


def test_the_log_file_holds_requests_when_given(keyed: LocalServer, log_file: Path) -> None:
    marker = "MARKER" + uuid.uuid4().hex
    assert ask(keyed, marker, Authorization=f"Bearer {KEY}").status_code == 200
    assert marker in log_file.read_text(encoding="utf-8")
