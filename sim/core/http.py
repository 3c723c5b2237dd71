"""Small HTTP helpers shared by the fakes: JSON in and out with Decimal."""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import web

from . import jsonutil

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Exception)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> web.Response:
    return web.Response(text=jsonutil.dumps(data), status=status, headers=headers,
                        content_type=content_type, charset="utf-8")


class AdminError(Exception):
    """A refused admin call: rendered as `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def read_json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise AdminError(400, "bad_request", "a JSON object body is required")
    try:
        body = jsonutil.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdminError(400, "bad_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AdminError(400, "bad_request", "the body must be a JSON object")
    return body


def require_str(body: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise AdminError(400, "bad_request", f"'{key}' must be a non-empty string")
    return value


def service_errors(error_type: type[E], render: Callable[[web.Request, E], web.StreamResponse],
                   translate: Callable[[web.Request, web.HTTPException | None], E | None]):
    """The one middleware a fake renders its errors with, in its service's shape.

    `translate` maps aiohttp's own refusals (404, 405, 413...) to the
    service's error, or returns None to let them through; called with None
    for an unexpected exception, it must return the service's internal error,
    so a bug still answers in the service's shape (and is logged).
    """
    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        try:
            return await handler(request)
        except error_type as exc:
            return render(request, exc)
        except web.HTTPException as exc:
            mapped = translate(request, exc)
            if mapped is None:
                raise
            return render(request, mapped)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            internal = translate(request, None)
            assert internal is not None
            return render(request, internal)
    return middleware
