"""`glassbox serve`: an OpenAI- and Ollama-compatible HTTP server over the same engine
processes, settings and document library as the app. FastAPI and uvicorn are imported only
here, so the window and the CLI's other commands never load them.

- config.py: what the user chose (address, key, limits) and the checks on it
- pool.py: the engine processes, a fair queue in front of them, cancel on disconnect
- request_log.py: the recent requests, open to inspection (the Server panel, Learn)
- guard.py: the ASGI middleware for keys, body limits and the request log
- errors.py: OpenAI- and Ollama-shaped errors
- app.py: the FastAPI application; *_routes.py: the endpoints
- local_server.py: uvicorn in a thread (the app) or in the foreground (the CLI)
"""
