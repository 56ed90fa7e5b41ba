"""`glassbox serve`: the OpenAI-compatible API server in the foreground, until Ctrl+C.

The key may come from GLASSBOX_API_KEY instead of --api-key, so it stays out of the shell's
history. A port already in use is found before the model loads, so the message comes at once.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
from pathlib import Path
from typing import Any, TextIO

from core.cli_shape import command, fail
from core.errors import GlassboxError

KEY_VARIABLE = "GLASSBOX_API_KEY"


def add_parser(sub: Any) -> None:
    from core.server.config import DEFAULT_PORT, ServerConfig

    defaults = ServerConfig()
    serve = sub.add_parser(
        "serve", help="serve an OpenAI-compatible API on this computer",
        description="Serve the model over HTTP: /v1/models, /v1/chat/completions, "
        "/v1/completions, /v1/embeddings. Binds 127.0.0.1 unless told otherwise; any other "
        f"address needs an API key (--api-key or {KEY_VARIABLE}). Ctrl+C stops it.")
    serve.add_argument("--host", default=defaults.host, help="address to listen on "
                       f"(default {defaults.host}: this computer only)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--model", metavar="MODEL", help="GGUF file or library model name "
                       "(default: the library's default, else the bundled SmolLM2)")
    serve.add_argument("--api-key", metavar="KEY", default=None,
                       help=f"clients must send this key (default: ${KEY_VARIABLE}, else none)")
    serve.add_argument("--parallel", type=int, default=defaults.parallel, metavar="N",
                       help="engine processes, each with its own copy of the model "
                       f"(default {defaults.parallel})")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="let web pages from this origin call the API (repeatable; "
                       "default: none)")
    serve.add_argument("--log-file", type=Path, default=None, metavar="PATH",
                       help="append every request (prompt and reply included) to this "
                       "JSON-lines file (default: kept in memory only)")
    serve.add_argument("--max-tokens", type=int, default=defaults.max_tokens, metavar="N",
                       help=f"the most tokens a request may ask for (default "
                       f"{defaults.max_tokens})")
    serve.add_argument("--ctx", type=int, default=None, metavar="N",
                       help="context window in tokens (default: the app's load settings)")
    from core.cli import add_lora_option  # one --lora for ask, chat and serve

    add_lora_option(serve)
    serve.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> Any:
    """The ServerConfig the options describe, checked (ServerConfigError says what is wrong)."""
    from core.server.config import ServerConfig

    if args.max_tokens < 1:
        raise GlassboxError("--max-tokens must be at least 1.")
    if args.ctx is not None and args.ctx < 1:
        raise GlassboxError("--ctx must be at least 1.")
    config = ServerConfig(
        host=args.host, port=args.port, model=args.model,
        api_key=args.api_key or os.environ.get(KEY_VARIABLE) or None,
        parallel=args.parallel, cors_origins=tuple(args.cors_origin),
        log_path=args.log_file, max_tokens=args.max_tokens, n_ctx=args.ctx,
        loras=tuple(getattr(args, "lora", ())),
        control_vector=getattr(args, "control_vector", None))
    config.check()
    return config


def check_port_free(host: str, port: int) -> None:
    """Fail now, with words, when another program holds the port (uvicorn would only say so
    after the model has loaded, in its own log format)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a server that just stopped is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise GlassboxError(f"Port {port} on {host} is in use by another program: "
                                    "stop it, or choose another port with --port.") from exc
            raise GlassboxError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}."
                                ) from exc


def ready_message(url: str, model: str, key: str | None) -> str:
    """What to paste to call the server: curl and the OpenAI Python client."""
    shown_key = f"${KEY_VARIABLE}" if key else "none"
    auth = f' -H "Authorization: Bearer {shown_key}"' if key else ""
    client_key = f'os.environ["{KEY_VARIABLE}"]' if key else '"none"'
    return (
        f"Serving {model} at {url}/v1 (Ctrl+C stops)\n"
        f"  curl {url}/v1/chat/completions{auth} -H \"Content-Type: application/json\" "
        f"-d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", "
        f"\"content\": \"Hello\"}}]}}'\n"
        f"  import os; from openai import OpenAI; client = OpenAI(base_url=\"{url}/v1\", "
        f"api_key={client_key})\n")


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox serve`: load, serve until Ctrl+C (exit 0), or say why it cannot."""
    from core.server.local_server import LocalServer

    config = config_from(args)
    check_port_free(config.host, config.port)
    server = LocalServer(config)
    serving = False

    def loaded(done: int, total: int) -> None:
        if total > 1:
            out.write(f"Loaded engine {done} of {total}\n")
            out.flush()

    def ready(srv: LocalServer) -> None:
        nonlocal serving
        serving = True
        assert srv.pool is not None
        out.write(ready_message(srv.url, srv.pool.name, config.api_key))
        if config.log_path is not None:
            out.write(f"  Requests are logged to {config.log_path}\n")
        out.flush()

    out.write(f"Loading the model for {config.display_host}:{config.port} ...\n")
    out.flush()
    try:
        server.serve_forever(progress=loaded, ready=ready)
    except KeyboardInterrupt:
        if not serving:
            return 130
    except SystemExit as exc:  # uvicorn exits when it cannot bind (a port taken meanwhile)
        if exc.code:
            return fail(err, f"Cannot listen on {config.display_host}:{config.port} (is the "
                        "port in use?).")
    out.write("Stopped.\n")
    return 0
