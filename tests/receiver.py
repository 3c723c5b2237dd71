"""A webhook receiver on a real socket for tests: records what arrives and
answers with whatever status the test asks for."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from sim.core import jsonutil
from sim.core.server import ServerThread


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return jsonutil.loads(self.body)


@dataclass
class Receiver:
    status: int = 200
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ServerThread | None = None

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            with self._lock:
                self.received.append(Received(body, dict(request.headers)))
            return web.Response(status=self.status)
        app = web.Application()
        app.router.add_post("/hook", handle)
        return app

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/hook"

    def wait(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                seen = list(self.received)
            if predicate(seen):
                return seen
            time.sleep(0.01)
        raise AssertionError(f"the receiver did not see what was expected; it saw {len(seen)} deliveries")

    def clear(self) -> None:
        with self._lock:
            self.received.clear()


def start_receiver() -> Receiver:
    receiver = Receiver()
    receiver.server = ServerThread(receiver.app).start()
    return receiver
