"""The servers of one test session (one per xdist worker): both fakes in-process, the engine as
a real process, all on 127.0.0.1 with ephemeral ports.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from sim.core.server import ServerThread

from .http import Http, ok_json

ROOT = Path(__file__).resolve().parents[2]
ENGINE_CLIENT_ID = "engine-client"
ENGINE_CLIENT_SECRET = "engine-secret"
CHECKER_CLIENT_ID = "features-checker"
CHECKER_CLIENT_SECRET = "features-checker-secret"
CHECKER_REDIRECT = "http://127.0.0.1:9/features-checker"
"""The harness's own QBO app: it reads a company through QBO's public API to check outcomes."""
STARTUP_TIMEOUT = 30.0
BANNER = "engine listening on "


class EngineStartError(RuntimeError):
    pass


@dataclass
class EngineProcess:
    """`python -m engine serve …` and what it said."""

    proc: subprocess.Popen[str]
    url: str
    stderr_path: Path
    stdout_tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def stderr_tail(self, chars: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_engine(qbo_url: str, canopy_url: str, workdir: Path, timeout: float = STARTUP_TIMEOUT) -> EngineProcess:
    """Start the engine on a free port and read its address from the first line of stdout."""
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "engine.db"
    stderr_path = workdir / "engine.stderr.log"
    cmd = [sys.executable, "-m", "engine", "serve", "--qbo", qbo_url, "--canopy", canopy_url,
           "--db", f"sqlite:///{db}", "--port", "0", "--qbo-client-id", ENGINE_CLIENT_ID,
           "--qbo-client-secret", ENGINE_CLIENT_SECRET, "--clock-control"]
    env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    stderr = open(stderr_path, "w")  # noqa: SIM115 (the child writes it for the whole session)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            bufsize=1)
    stderr.close()
    first: deque[str] = deque()
    tail: deque[str] = deque(maxlen=200)
    got = threading.Event()

    def pump() -> None:  # keeps draining stdout so the engine never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            if not got.is_set():
                first.append(line.rstrip("\n"))
                got.set()
            tail.append(line.rstrip("\n"))
        got.set()

    threading.Thread(target=pump, daemon=True, name="engine-stdout").start()
    deadline = time.monotonic() + timeout
    while not got.wait(0.1):
        if proc.poll() is not None or time.monotonic() > deadline:
            break
    line = first[0] if first else ""
    if not line.startswith(BANNER):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        why = (f"exited with {proc.returncode}" if proc.returncode is not None
               else f"said nothing within {timeout:.0f} s")
        raise EngineStartError(f"`{' '.join(cmd)}` {why}; first stdout line {line!r}; stderr:\n"
                               + stderr_path.read_text(errors="replace")[-4000:])
    return EngineProcess(proc, line[len(BANNER):].strip().rstrip("/"), stderr_path, tail)


@dataclass
class Servers:
    qbo: ServerThread
    canopy: ServerThread
    engine: EngineProcess | None = None
    engine_error: str | None = None

    @property
    def qbo_url(self) -> str:
        return self.qbo.url

    @property
    def canopy_url(self) -> str:
        return self.canopy.url

    @property
    def engine_url(self) -> str:
        if self.engine is None:
            raise EngineStartError(self.engine_error or "the engine was not started")
        if not self.engine.alive():
            raise EngineStartError(f"the engine exited with {self.engine.proc.returncode}; stderr:\n"
                                   + self.engine.stderr_tail())
        return self.engine.url


def register_checker_app(qbo_url: str) -> None:
    """The harness's own QBO app, which reads companies to check outcomes."""
    ok_json(Http(qbo_url + "/_sim").post("/apps", {
        "client_id": CHECKER_CLIENT_ID, "client_secret": CHECKER_CLIENT_SECRET,
        "redirect_uris": [CHECKER_REDIRECT], "name": "Features checker"}), 201)


def register_engine_app(qbo_url: str, engine_url: str) -> None:
    """The engine's QBO app, with the redirect URI the engine told (`{engine}/oauth/callback`)."""
    ok_json(Http(qbo_url + "/_sim").post("/apps", {
        "client_id": ENGINE_CLIENT_ID, "client_secret": ENGINE_CLIENT_SECRET,
        "redirect_uris": [engine_url + "/oauth/callback"], "name": "Canopy"}), 201)
