"""Serving a fake's OpenAPI documents (kept as YAML beside their code) as JSON.

Two kinds: a fake's public API document (`spec_route`, at `/openapi.json`) and the
`/_sim` admin document (`admin_spec_route`, at `/_sim/openapi.json`), which is the
core admin spec (sim/core/admin_openapi.yaml) merged with the fake's own
(`merged_spec`): the fake's `paths` and `components` are added to the core's.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .http import json_response

OVERRIDABLE = "x-sim-overridable"
"""Marks a core component a fake's spec may replace (an extension point); any other clash is an error."""


@lru_cache(maxsize=None)
def load_spec(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


class SpecMergeError(ValueError):
    """The fake's spec contradicts the core's: the same operation or component, defined twice."""


def merge_specs(core: dict[str, Any], extra: dict[str, Any], *, source: str = "extra spec") -> dict[str, Any]:
    """The core document with `extra`'s paths, components, tags and info added (neither is changed).

    - paths: a new path is added; on a path both define, the fake's operations (and path-level
      keys) are added; one operation defined by both is an error unless equal.
    - components: per section (`schemas`, `responses`, `parameters`...); a name both define is an
      error unless equal or the core's is marked `x-sim-overridable: true`, which the fake's replaces.
    - info: the fake's keys win (its title and description); tags: the core's, then the fake's new ones;
      servers: the fake's if it gives any; any other top-level key must not contradict the core's.
    """
    if extra.get("openapi", core.get("openapi")) != core.get("openapi"):
        raise SpecMergeError(f"{source}: openapi {extra.get('openapi')} differs from the core's {core.get('openapi')}")
    out = copy.deepcopy(core)
    extra = copy.deepcopy(extra)
    out["info"] = {**out.get("info", {}), **extra.get("info", {})}
    names = {t.get("name") for t in out.get("tags", [])}
    new_tags = [t for t in extra.get("tags", []) if t.get("name") not in names]
    if new_tags:
        out["tags"] = [*out.get("tags", []), *new_tags]
    if extra.get("servers"):
        out["servers"] = extra["servers"]

    paths = out.setdefault("paths", {})
    for path, item in (extra.get("paths") or {}).items():
        mine = paths.setdefault(path, {})
        for key, value in item.items():
            if key in mine and mine[key] != value:
                raise SpecMergeError(f"{source}: {key} {path} is already defined by the core admin spec")
            mine[key] = value

    components = out.setdefault("components", {})
    for section, entries in (extra.get("components") or {}).items():
        mine = components.setdefault(section, {})
        for name, value in entries.items():
            existing = mine.get(name)
            if existing is not None and existing != value and not (
                    isinstance(existing, dict) and existing.get(OVERRIDABLE) is True):
                raise SpecMergeError(f"{source}: components/{section}/{name} clashes with the core's "
                                     f"(only components marked {OVERRIDABLE} may be replaced)")
            mine[name] = value

    for key, value in extra.items():
        if key in ("openapi", "info", "tags", "servers", "paths", "components"):
            continue
        if key in out and out[key] != value:
            raise SpecMergeError(f"{source}: top-level '{key}' contradicts the core's")
        out[key] = value
    return out


@lru_cache(maxsize=None)
def _merged(core_path: str, extra_path: str | None) -> dict[str, Any]:
    core = load_spec(core_path)
    if extra_path is None:
        return copy.deepcopy(core)
    return merge_specs(core, load_spec(extra_path), source=extra_path)


def merged_spec(core_path: Path | str, extra_path: Path | str | None) -> dict[str, Any]:
    """The core admin spec merged with a fake's (or the core alone without one): a fresh dict."""
    return copy.deepcopy(_merged(str(core_path), str(extra_path) if extra_path is not None else None))


def spec_route(path: Path, url: str = "/openapi.json") -> web.RouteTableDef:
    """A route table serving the YAML spec at `path` as JSON, with this server as its server."""
    routes = web.RouteTableDef()

    @routes.get(url)
    async def serve(request: web.Request) -> web.Response:
        spec = dict(load_spec(str(path)))
        spec["servers"] = [{"url": f"{request.scheme}://{request.host}"}]
        return json_response(spec)

    return routes


def admin_spec_route(core_path: Path, extra_path: Path | None = None,
                     url: str = "/openapi.json") -> web.RouteTableDef:
    """A route table for the admin sub-app serving `merged_spec(core_path, extra_path)` as JSON.

    The documents' paths carry no mount prefix, so the served `servers` is the absolute URL of
    the mount point the route is reached under (`{scheme}://{host}/_sim`): a client resolves
    every documented path against it.
    """
    extra = str(extra_path) if extra_path is not None else None
    _merged(str(core_path), extra)  # a bad merge fails when the app is built, not on the first request
    routes = web.RouteTableDef()

    @routes.get(url)
    async def serve(request: web.Request) -> web.Response:
        spec = dict(_merged(str(core_path), extra))  # shallow: only `servers` is replaced
        served = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
        mount = served[: -len(url)] if served.endswith(url) else ""
        spec["servers"] = [{"url": f"{request.scheme}://{request.host}{mount}",
                            "description": "This fake's admin API"}]
        return json_response(spec)

    return routes
