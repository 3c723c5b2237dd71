"""One place that turns a `QboFault` (or a surprise) into QBO's answer."""
from __future__ import annotations

import logging

from aiohttp import web

from sim.core.context import SIM
from sim.core.http import json_response, service_errors

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


def _translate(request: web.Request, exc: web.HTTPException | None) -> QboFault | None:
    if exc is None:
        return system_fault()
    if request.path.startswith(API_PREFIX) and isinstance(exc, (web.HTTPNotFound, web.HTTPMethodNotAllowed)):
        return unsupported_operation(f"Operation {request.method} {request.path} is not supported.")
    return None


qbo_faults = service_errors(QboFault, render_fault, _translate)
"""Every QBO error, and every surprise, leaves as QBO's Fault: never a bare 500."""
