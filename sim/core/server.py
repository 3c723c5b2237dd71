"""Running a fake on a real socket: in the foreground for people, in a
thread with its own loop for tests and the demo."""
from __future__ import annotations

import asyncio
import threading
from typing import Callable

from aiohttp import web


async def start_site(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Bind (port 0 picks a free one) and return the runner and the real port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    return runner, sockets[0].getsockname()[1]


class ServerThread:
    """A fake served from a background thread on 127.0.0.1:<ephemeral>.

    Synchronous clients (`requests`, intuit-oauth, python-quickbooks) can then
    call it from the test's own thread over real HTTP.
    """

    def __init__(self, factory: Callable[[], web.Application], host: str = "127.0.0.1", port: int = 0) -> None:
        self.factory, self.host, self.port = factory, host, port
        self.app: web.Application | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="sim-server")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.app = self.factory()
            self._runner, self.port = self._loop.run_until_complete(start_site(self.app, self.host, self.port))
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(30)
        if self._error:
            raise self._error
        return self

    def call(self, fn: Callable[[], object]) -> object:
        """Run `fn` on the server's loop thread and wait for its result."""
        async def wrapper() -> object:
            return fn()
        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(30)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
