"""Serving a fake's OpenAPI document (kept as YAML beside its code) as JSON."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .http import json_response


@lru_cache(maxsize=None)
def load_spec(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def spec_route(path: Path, url: str = "/openapi.json") -> web.RouteTableDef:
    """A route table serving the YAML spec at `path` as JSON, with this server as its server."""
    routes = web.RouteTableDef()

    @routes.get(url)
    async def serve(request: web.Request) -> web.Response:
        spec = dict(load_spec(str(path)))
        spec["servers"] = [{"url": f"{request.scheme}://{request.host}"}]
        return json_response(spec)

    return routes
