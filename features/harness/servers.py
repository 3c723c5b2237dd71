"""The servers of one test session (one per xdist worker): both fakes in-process, the engine as
a real process, all on 127.0.0.1 with ephemeral ports.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.core.server import ServerThread
from sim.demo.servers import EngineApp, EngineProcess, EngineStartError
from sim.demo.servers import start_engine as launch

from .http import Http, ok_json

ROOT = Path(__file__).resolve().parents[2]
ENGINE_CLIENT_ID = "engine-client"
ENGINE_CLIENT_SECRET = "engine-secret"
ENGINE_APP = EngineApp(ENGINE_CLIENT_ID, ENGINE_CLIENT_SECRET, "features-verifier-token")
CHECKER_CLIENT_ID = "features-checker"
CHECKER_CLIENT_SECRET = "features-checker-secret"
CHECKER_REDIRECT = "http://127.0.0.1:9/features-checker"
"""The harness's own QBO app: it reads a company through QBO's public API to check outcomes."""
STARTUP_TIMEOUT = 30.0
UNPACED = ("--no-qbo-pacing",)
"""The harness's fake QBO runs with its throttles off, so its engines do not pace their QBO
requests to the real limits (which would slow every test for nothing)."""


def start_engine(qbo_url: str, canopy_url: str, workdir: Path, timeout: float = STARTUP_TIMEOUT) -> EngineProcess:
    """The engine on a free port, with the harness's QBO app (the demo's launcher, shared)."""
    return launch(qbo_url, canopy_url, workdir, ENGINE_APP, extra=UNPACED, timeout=timeout)


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


def register_engine_app(qbo_url: str, engine_url: str, webhooks: bool = True) -> None:
    """The engine's QBO app, with the redirect URI the engine told (`{engine}/oauth/callback`) and,
    unless `webhooks` is false, QBO's webhooks: `{engine}/webhooks/qbo`, signed with the verifier
    token the engine was started with (`--qbo-verifier-token`, see `start_engine`)."""
    body = {"client_id": ENGINE_CLIENT_ID, "client_secret": ENGINE_CLIENT_SECRET,
            "redirect_uris": [engine_url + "/oauth/callback"], "name": "Canopy"}
    if webhooks:
        body |= {"webhook_url": engine_url + "/webhooks/qbo", "verifier_token": ENGINE_APP.verifier_token}
    ok_json(Http(qbo_url + "/_sim").post("/apps", body), 201)
