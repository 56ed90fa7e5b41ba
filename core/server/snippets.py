"""Copy-paste snippets that call a running server: curl, the OpenAI Python client, LangChain.

Plain text only (no FastAPI here): the Server panel shows them without importing the server.
Each is a complete program a person can paste and run against the address, model and key they
see in the panel.
"""

from __future__ import annotations

import json
import shlex

# The OpenAI client and LangChain refuse an empty key; a server without one ignores it.
NO_KEY = "not-needed"
QUESTION = "Say hello in five words."


def _key(api_key: str | None) -> str:
    return api_key or NO_KEY


def curl(url: str, model: str, api_key: str | None = None) -> str:
    # A field a line: short enough to read in the panel's snippet box without scrolling.
    message = json.dumps({"role": "user", "content": QUESTION})
    body = f'{{"model": {json.dumps(model)},\n       "messages": [{message}]}}'
    lines = [f"curl {shlex.quote(url + '/v1/chat/completions')} \\",
             '  -H "Content-Type: application/json" \\']
    if api_key:
        lines.append(f"  -H {shlex.quote('Authorization: Bearer ' + api_key)} \\")
    lines.append(f"  -d {shlex.quote(body)}")
    return "\n".join(lines)


def openai_python(url: str, model: str, api_key: str | None = None) -> str:
    return (
        "from openai import OpenAI\n"
        "\n"
        "client = OpenAI(\n"
        f"    base_url={url + '/v1'!r},\n"
        f"    api_key={_key(api_key)!r},\n"
        ")\n"
        "reply = client.chat.completions.create(\n"
        f"    model={model!r},\n"
        f"    messages=[{{\"role\": \"user\", \"content\": {QUESTION!r}}}],\n"
        ")\n"
        "print(reply.choices[0].message.content)\n")


def langchain(url: str, model: str, api_key: str | None = None) -> str:
    return (
        "from langchain_openai import ChatOpenAI\n"
        "\n"
        "llm = ChatOpenAI(\n"
        f"    base_url={url + '/v1'!r},\n"
        f"    api_key={_key(api_key)!r},\n"
        f"    model={model!r},\n"
        ")\n"
        f"print(llm.invoke({QUESTION!r}).content)\n")


def snippets(url: str, model: str, api_key: str | None = None) -> dict[str, str]:
    """Every snippet by its title, in the order the panel shows them."""
    return {"curl": curl(url, model, api_key),
            "OpenAI Python": openai_python(url, model, api_key),
            "LangChain": langchain(url, model, api_key)}
