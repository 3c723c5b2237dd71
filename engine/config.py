"""The engine's configuration: base URLs, the QBO app's credentials, the database, keys.

Flags win over environment variables (`ENGINE_*`), which win over defaults. Nothing here
knows the fakes: pointing the engine at real QBO and Canopy is a matter of these values.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from engine.clients.pacing import DEFAULT_MARGIN


@dataclass(frozen=True)
class Backoff:
    """Retry waits for 429, 5xx and time-outs (QBO sends no Retry-After: this is configuration)."""

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 6


@dataclass(frozen=True)
class EngineConfig:
    qbo_url: str
    canopy_url: str
    db_url: str = "sqlite:///engine.db"
    host: str = "127.0.0.1"
    port: int = 8700
    qbo_client_id: str = "engine-client"
    qbo_client_secret: str = "engine-secret"
    qbo_verifier_token: str | None = None
    public_url: str | None = None
    token_key: str | None = None
    clock_control: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    scopes: str = "com.intuit.quickbooks.accounting"
    reconcile_every: float | None = 300.0
    """Seconds (of the engine clock) between reconciliations from QBO CDC and Canopy's feed."""
    request_timeout: float = 30.0
    qbo_pacing: bool = True
    """Hold QBO requests to the realm's limits (10 a second, 500 a minute, 40 batches a minute)
    instead of learning them from 429s."""
    qbo_pace_margin: float = DEFAULT_MARGIN
    """Seconds added to each pacing window, for clocks that disagree a little."""

    def with_public_url(self, url: str) -> EngineConfig:
        from dataclasses import replace
        return replace(self, public_url=self.public_url or url)

    @property
    def redirect_uri(self) -> str:
        assert self.public_url, "the public URL is known once the server listens"
        return self.public_url.rstrip("/") + "/oauth/callback"


_ENV = {"qbo_url": "ENGINE_QBO_URL", "canopy_url": "ENGINE_CANOPY_URL", "db_url": "ENGINE_DB_URL",
        "qbo_client_id": "ENGINE_QBO_CLIENT_ID", "qbo_client_secret": "ENGINE_QBO_CLIENT_SECRET",
        "qbo_verifier_token": "ENGINE_QBO_VERIFIER_TOKEN", "public_url": "ENGINE_PUBLIC_URL",
        "token_key": "ENGINE_TOKEN_KEY"}


def add_arguments(p: argparse.ArgumentParser, server: bool = True) -> None:
    p.add_argument("--db", dest="db_url", help="SQLAlchemy URL (default sqlite:///engine.db)")
    if not server:
        return
    p.add_argument("--qbo", dest="qbo_url", help="QBO base URL")
    p.add_argument("--canopy", dest="canopy_url", help="Canopy base URL")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700, help="0 takes a free port")
    p.add_argument("--qbo-client-id", dest="qbo_client_id")
    p.add_argument("--qbo-client-secret", dest="qbo_client_secret")
    p.add_argument("--qbo-verifier-token", dest="qbo_verifier_token")
    p.add_argument("--public-url", dest="public_url")
    p.add_argument("--token-key", dest="token_key")
    p.add_argument("--clock-control", action="store_true", help="mount POST /_engine/clock (test harnesses)")
    p.add_argument("--backoff-base", type=float, default=None, help="first retry wait in seconds")
    p.add_argument("--backoff-attempts", type=int, default=None)
    p.add_argument("--no-qbo-pacing", dest="qbo_pacing", action="store_false",
                   help="send QBO requests at once and learn its limits from 429s")
    p.add_argument("--qbo-pace-margin", type=float, default=None,
                   help=f"seconds added to each QBO pacing window (default {DEFAULT_MARGIN:g})")
    p.add_argument("--reconcile-every", type=float, default=300.0,
                   help="seconds between reconciliations (CDC, change feed); 0 turns the schedule off")


def env_or(args: argparse.Namespace, name: str, default: str | None = None) -> str | None:
    value = getattr(args, name, None)
    return value if value is not None else os.environ.get(_ENV.get(name, ""), default)


def db_url(args: argparse.Namespace) -> str:
    return env_or(args, "db_url", "sqlite:///engine.db") or "sqlite:///engine.db"


def from_args(args: argparse.Namespace) -> EngineConfig:
    qbo, canopy = env_or(args, "qbo_url"), env_or(args, "canopy_url")
    if not qbo or not canopy:
        raise SystemExit("engine: --qbo URL and --canopy URL (or ENGINE_QBO_URL, ENGINE_CANOPY_URL) are required")
    base = Backoff()
    backoff = Backoff(base=args.backoff_base if args.backoff_base is not None else base.base, cap=base.cap,
                      attempts=args.backoff_attempts or base.attempts)
    return EngineConfig(
        qbo_url=qbo.rstrip("/"), canopy_url=canopy.rstrip("/"), db_url=db_url(args), host=args.host, port=args.port,
        qbo_client_id=env_or(args, "qbo_client_id", "engine-client") or "engine-client",
        qbo_client_secret=env_or(args, "qbo_client_secret", "engine-secret") or "engine-secret",
        qbo_verifier_token=env_or(args, "qbo_verifier_token"), public_url=env_or(args, "public_url"),
        token_key=env_or(args, "token_key"), clock_control=args.clock_control, backoff=backoff,
        reconcile_every=args.reconcile_every or None, qbo_pacing=args.qbo_pacing,
        qbo_pace_margin=DEFAULT_MARGIN if args.qbo_pace_margin is None else max(0.0, args.qbo_pace_margin))
