"""HTTP plumbing every engine route shares: the app keys, JSON replies, the error middleware,
and who a request acts for. Routes live in `engine.app` (wizard) and `engine.sync` (webhooks)."""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from engine.clients import UpstreamError
from engine.clock import Clock, SystemClock
from engine.service import ApiError, Engine, Me

log = logging.getLogger("engine.web")
ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
CLOCK: web.AppKey[Clock] = web.AppKey("clock", SystemClock)  # type: ignore[arg-type]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reply(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, default=str))


def error_reply(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return reply({"error": {"code": code, "message": message, **extra}}, status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_reply(exc.status, exc.code, exc.message, **exc.extra)
    except UpstreamError as exc:
        return error_reply(502, "upstream_error", f"{exc.service} answered {exc.status} {exc.code}: {exc.message}",
                           service=exc.service, upstream_code=exc.code)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "bad_request")
            answer = error_reply(exc.status, code, exc.reason)
            if "Allow" in exc.headers:
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        busy = "database is locked" in str(exc)
        return error_reply(503 if busy else 500, "busy" if busy else "internal_error",
                           "the engine's database is busy; try again" if busy
                           else f"the engine failed: {type(exc).__name__}")


async def body_of(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", "the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return data


async def me_of(request: web.Request) -> Me:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send the Canopy user's token as 'Authorization: Bearer …'")
    return await request.app[ENGINE].whoami(token.strip())


def wants_wait(request: web.Request) -> bool:
    raw = request.query.get("wait", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, "bad_request", "'wait' must be true or false")
    return raw in ("true", "1")


