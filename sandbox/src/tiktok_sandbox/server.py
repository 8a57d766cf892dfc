"""Run the sandbox in a background thread, for tests and the CLI."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from tiktok_sandbox.app import create_app
from tiktok_sandbox.config import SandboxConfig
from tiktok_sandbox.state import SandboxState

_START_TIMEOUT_SECONDS = 15.0
_STOP_TIMEOUT_SECONDS = 10.0


class SandboxServer:
    """A real HTTP server (uvicorn) serving the sandbox on ``host:port``.

    ``port=0`` picks a free port; :attr:`url` tells which. Usable as a context manager::

        with SandboxServer() as server:
            requests.get(f"{server.url}/_sandbox/health")
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.app = create_app(config)
        self._host = host
        self._port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def state(self) -> SandboxState:
        """The sandbox state, for direct inspection from the test's thread (it is thread-safe)."""
        state: SandboxState = self.app.state.sandbox
        return state

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321``; raises if the server is not running."""
        if self._url is None:
            raise RuntimeError("SandboxServer is not running; call start() first")
        return self._url

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL once connections are accepted."""
        if self._url is not None:
            return self._url
        config = uvicorn.Config(
            self.app,
            host=self._host,
            port=self._port,
            log_level=self._log_level,
            lifespan="off",
            # Uvicorn's access log prints paths and query strings only, never bodies.
            access_log=self._log_level in ("info", "debug", "trace"),
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="tiktok-sandbox", daemon=True)
        thread.start()
        port = self._wait_until_started(server, thread)
        self._server, self._thread = server, thread
        url_host = f"[{self._host}]" if ":" in self._host else self._host
        self._url = f"http://{url_host}:{port}"
        self._wait_until_accepting(port)
        return self._url

    def _wait_until_started(self, server: uvicorn.Server, thread: threading.Thread) -> int:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"sandbox server failed to start on {self._host}:{self._port}")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("sandbox server did not start in time")
            time.sleep(0.01)
        # With port=0 the OS picked the port: read it back from the listening socket.
        sockets = [sock for listener in server.servers for sock in listener.sockets]
        return int(sockets[0].getsockname()[1])

    def _wait_until_accepting(self, port: int) -> None:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host.strip("[]")
        host = "::1" if host == "::" else host
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while True:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT_SECONDS)
        self._server = self._thread = self._url = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
