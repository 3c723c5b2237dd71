"""One place that turns a `QboFault` (or a surprise) into QBO's answer."""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from aiohttp import web

from sim.core.context import SIM
from sim.core.http import json_response

from .errors import QboFault, system_fault, unsupported_operation
from .tenancy import DEFAULT_OFFSET, company_offset, qbo_time

log = logging.getLogger(__name__)
API_PREFIX = "/v3/company/"


def realm_of(request: web.Request) -> str | None:
    path = request.path
    if path.startswith(API_PREFIX):
        return path[len(API_PREFIX):].split("/", 1)[0] or None
    return None


def render_fault(request: web.Request, fault: QboFault) -> web.Response:
    ctx = request.app[SIM]
    realm = realm_of(request)
    clock = ctx.clock(realm if realm and ctx.store.tenant_info(realm) else None)
    offset = company_offset(ctx, realm) if realm else DEFAULT_OFFSET
    iso = qbo_time(clock.now(), offset, millis=True)
    return json_response(fault.body(iso, int(clock.timestamp() * 1000)), status=fault.status)


@web.middleware
async def qbo_faults(request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        return await handler(request)
    except QboFault as fault:
        return render_fault(request, fault)
    except web.HTTPNotFound:
        if request.path.startswith(API_PREFIX):
            return render_fault(request, unsupported_operation(
                f"Operation {request.method} {request.path} is not supported."))
        raise
    except web.HTTPMethodNotAllowed:
        if request.path.startswith(API_PREFIX):
            return render_fault(request, unsupported_operation(
                f"Method {request.method} is not supported on {request.path}."))
        raise
    except web.HTTPException:
        raise
    except Exception:  # never a bare 500: QBO's SystemFault, and a log line to debug it
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_fault(request, system_fault())
