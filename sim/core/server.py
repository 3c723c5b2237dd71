"""Running a fake on a real socket: in the foreground for people, in a
thread with its own loop for tests and the demo, or in a process of its own
where its CPU must not share a GIL with its client (bulk seeding)."""
from __future__ import annotations

import asyncio
import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

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


def _serve_child(factory: Callable[..., web.Application], args: tuple[Any, ...], host: str,
                 reply: Connection) -> None:
    async def run() -> None:
        try:
            _runner, port = await start_site(factory(*args), host, 0)
        except BaseException as exc:
            reply.send(("error", repr(exc)))
            raise
        reply.send(("port", port))
        await asyncio.Event().wait()
    asyncio.run(run())


class ServerProcess:
    """A fake served from a child process of its own on 127.0.0.1:<ephemeral>.

    `factory(*args)` builds the app in the child (both must pickle: a module-level function and
    plain values). The child is started fresh (spawn), so it holds only what the fake holds, and
    `peak_rss_mb` can tell the fake's own peak memory.
    """

    def __init__(self, factory: Callable[..., web.Application], *args: Any, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, 0
        ctx = multiprocessing.get_context("spawn")
        self._reply, child_end = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve_child, args=(factory, args, host, child_end), daemon=True,
                                 name="sim-server")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self._proc.pid or 0

    def start(self) -> "ServerProcess":
        self._proc.start()
        if not self._reply.poll(60):
            self.stop()
            raise RuntimeError("the server process did not start within 60 s")
        kind, value = self._reply.recv()
        if kind != "port":
            self.stop()
            raise RuntimeError(f"the server process failed to start: {value}")
        self.port = int(value)
        return self

    def peak_rss_mb(self) -> float | None:
        """The child's peak resident memory (Linux' VmHWM); None where /proc does not tell."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(30)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
