"""The Server panel's copy-paste snippets run as pasted against a real server."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import subprocess

from core.server.config import ServerConfig
from core.server.local_server import LocalServer
from core.server.snippets import NO_KEY, curl, langchain, openai_python, snippets

KEY = "s3cret-'key"  # a quote in the key must survive the shell and Python quoting


def test_the_snippets_name_the_address_model_and_key() -> None:
    shown = snippets("http://127.0.0.1:8080", "smollm2", KEY)
    assert list(shown) == ["curl", "OpenAI Python", "LangChain"]
    for text in shown.values():
        assert "http://127.0.0.1:8080" in text and "smollm2" in text
    for text in (shown["OpenAI Python"], shown["LangChain"]):
        tree = ast.parse(text)
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert {KEY, "http://127.0.0.1:8080/v1", "smollm2"} <= strings
    assert "ChatOpenAI" in langchain("http://h:1", "m")


def test_without_a_key_no_header_is_sent_and_the_clients_get_a_placeholder() -> None:
    assert "Authorization" not in curl("http://h:1", "m")
    assert repr(NO_KEY) in openai_python("http://h:1", "m")


def test_curl_and_the_openai_snippet_run_against_a_server() -> None:
    with LocalServer(ServerConfig(port=0, api_key=KEY)) as server:
        model = server.pool.name if server.pool else ""
        done = subprocess.run(["bash", "-c", curl(server.url, model, KEY)],
                              capture_output=True, text=True, timeout=120, check=True)
        reply = json.loads(done.stdout)
        assert reply["object"] == "chat.completion"
        assert reply["choices"][0]["message"]["content"].strip()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(openai_python(server.url, model, KEY), "snippet", "exec"), {})
        assert printed.getvalue().strip()
        refused = subprocess.run(["bash", "-c", curl(server.url, model, "wrong")],
                                 capture_output=True, text=True, timeout=120, check=True)
        assert "error" in json.loads(refused.stdout)
