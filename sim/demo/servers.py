"""The demo's three servers: both fakes in background threads of this process, and the sync
engine as a separate process (`python -m engine serve`), all on 127.0.0.1 with ephemeral ports.

The demo never imports the engine: it starts it, reads the address from the first line of its
standard output (`engine listening on http://127.0.0.1:PORT`) and talks to it over HTTP.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BANNER = "engine listening on "
STARTUP_TIMEOUT_S = 30.0


class EngineStartError(RuntimeError):
    pass


@dataclass(frozen=True)
class EngineApp:
    """The engine's QBO app: registered at the fake QBO, handed to the engine as flags."""

    client_id: str = "canopy-sync-engine"
    client_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    verifier_token: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class EngineProcess:
    proc: subprocess.Popen[str]
    url: str
    command: list[str]
    stderr_path: Path
    stdout_tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, chars: int = 3000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop this process only (by its own handle), politely first."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_engine(qbo_url: str, canopy_url: str, workdir: Path, app: EngineApp, *, extra: tuple[str, ...] = (),
                 timeout: float = STARTUP_TIMEOUT_S) -> EngineProcess:
    """`python -m engine serve` on a free port, with a SQLite database in `workdir` (the demo's,
    the Gherkin harness's and the contract tests' one way to start it).

    `--clock-control` lets the demo set the engine's clock to the fakes' (they run on from the
    scenario's epoch): Canopy signs its webhooks with its own time, and the engine refuses a
    signature more than 5 minutes away from its clock.
    """
    cmd = [sys.executable, "-m", "engine", "serve", "--qbo", qbo_url, "--canopy", canopy_url,
           "--db", f"sqlite:///{workdir / 'engine.db'}", "--port", "0",
           "--qbo-client-id", app.client_id, "--qbo-client-secret", app.client_secret,
           "--qbo-verifier-token", app.verifier_token, "--backoff-base", "0.05", "--clock-control", *extra]
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    stderr_path = workdir / "engine.stderr.log"
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                bufsize=1)
    first: list[str] = []
    tail: deque[str] = deque(maxlen=200)
    got = threading.Event()

    def pump() -> None:  # keeps reading stdout so the engine never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            if not first:
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
    engine = EngineProcess(proc, line[len(BANNER):].strip().rstrip("/"), cmd, stderr_path, tail)
    if not line.startswith(BANNER):
        engine.stop()
        why = f"exited with {proc.returncode}" if proc.returncode is not None else "said nothing in time"
        raise EngineStartError(f"the engine {why}; first line of its output {line!r}; its stderr:\n"
                               + engine.stderr_tail())
    return engine
