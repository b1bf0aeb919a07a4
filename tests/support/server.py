"""Run an ASGI app on a real uvicorn server on a loopback port, in a thread.

Tests talk to sandboxes and to Heatshield over real sockets, as a client
would; a thread keeps the server's event loop apart from the test's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def serve_asgi(app: ASGIApp, host: str = "127.0.0.1", lifespan: str = "on") -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) while the app serves."""
    # No proxy handling in the server: Heatshield applies X-Forwarded-* itself, from the
    # proxies its settings trust (server.forwarded_allow_ips), so tests see what it decides.
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan=lifespan,  # type: ignore[arg-type]
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
