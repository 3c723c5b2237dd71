"""The features' harness: per worker, both fakes in-process and the engine as a real process;
per scenario, a QBO company and a Canopy firm of its own (see features/harness/).

Step definitions live in features/steps/, by domain, loaded here as plugins.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from features.harness.engine import Engine
from features.harness.servers import (
    EngineStartError,
    Servers,
    register_checker_app,
    register_engine_app,
    start_engine,
)
from sim.core.server import ServerThread
from sim.fake_canopy.app import CanopyConfig
from sim.fake_canopy.app import create_app as canopy_app
from sim.fake_qbo.app import QboConfig
from sim.fake_qbo.app import create_app as qbo_app

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

pytest_plugins = [
    "features.steps.common",
    "features.steps.access",
    "features.steps.contacts",
    "features.steps.items",
    "features.steps.ongoing",
]


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """The fake QBO (throttles off) and the fake Canopy of this worker, on ephemeral ports."""
    with ServerThread(lambda: qbo_app(QboConfig(limits=False))) as q, \
            ServerThread(lambda: canopy_app(CanopyConfig())) as c:
        register_checker_app(q.url)
        s = Servers(q, c)
        yield s
        if s.engine is not None:
            s.engine.stop()


@pytest.fixture(scope="session")
def engine(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """`python -m engine serve` against this worker's fakes, its QBO app registered at the fake
    QBO with the redirect URI the engine told. Stopped when the session ends (see `servers`)."""
    if servers.engine is None and servers.engine_error is None:
        try:
            servers.engine = start_engine(servers.qbo_url, servers.canopy_url, tmp_path_factory.mktemp("engine"))
        except EngineStartError as exc:
            servers.engine_error = str(exc)
        else:
            register_engine_app(servers.qbo_url, servers.engine.url)
    if servers.engine_error:
        pytest.fail(f"the engine did not start: {servers.engine_error}", pytrace=False)
    return Engine(servers.engine_url)
