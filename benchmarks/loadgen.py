"""The load generator the HTTP benchmarks share (qbo_crud.py, peers.py), and starting servers.

`drive` sends `total` calls over `workers` keep-alive aiohttp workers (optionally stopping
after `max_seconds`, for servers too slow to finish a fixed count) and answers requests per
second. `spawn` starts a server as a child process, optionally pinned to some cores
(`os.sched_setaffinity`) before it runs any code, so server and load generator do not share a
core; `wait_http` waits until it answers.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

Call = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


async def drive(call: Call, total: int, workers: int, max_seconds: float | None = None) -> float:
    """Requests per second for `total` calls spread over `workers` keep-alive workers
    (fewer when `max_seconds` runs out first: the rate is then of the calls that were made)."""
    numbers = itertools.count()
    done = 0
    connector = aiohttp.TCPConnector(limit=workers, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        await call(http, -1)  # warm the connection and the code path
        started = time.perf_counter()
        deadline = None if max_seconds is None else started + max_seconds

        async def worker() -> None:
            nonlocal done
            while (n := next(numbers)) < total:
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                await call(http, n)
                done += 1

        await asyncio.gather(*(worker() for _ in range(workers)))
        return done / (time.perf_counter() - started)


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def split_cores() -> tuple[set[int] | None, set[int] | None]:
    """(server cores, load generator cores): the first core for servers, the rest for the load
    generator; (None, None) on a machine with one core (nothing to split)."""
    have = cores()
    if len(have) < 2:
        return None, None
    return {have[0]}, set(have[1:])


def pin_self(cpus: set[int] | None) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PIN = "import os, sys; os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')}); os.execvp(sys.argv[2], sys.argv[2:])"
"""A trampoline: pin itself, then exec the server, so the server is pinned from its first
instruction on and every thread it starts inherits the mask (what `taskset` does)."""


def spawn(cmd: Sequence[str], cpus: set[int] | None = None, *, env: dict[str, str] | None = None,
          stdout: int | None = subprocess.DEVNULL, cwd: str | None = None) -> subprocess.Popen[str]:
    """Start `cmd`, pinned to `cpus` (when given) before it runs."""
    argv = list(cmd)
    if cpus and hasattr(os, "sched_setaffinity"):
        argv = [sys.executable, "-c", PIN, ",".join(map(str, sorted(cpus))), *argv]
    return subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            text=True, env=env, cwd=cwd)


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Until `url` answers anything over HTTP; raises when `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} before answering {url}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer from {url} within {timeout:.0f} s") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop one child we started, by its own pid."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
