"""Check HTTP exchanges against the fake's own OpenAPI document.

`SpecValidator(spec)` finds the operation for a method and URL, then checks a
response (documented status, media type, required headers, body schema) and a
request body (the operation's `requestBody` schema). `Recorder` wraps
`requests.Session.send`, so every exchange python-quickbooks and intuit-oauth
make in a test goes through it, whatever session they build.

`$ref`s resolve inside the document through a `referencing` registry; formats
(`date`, `date-time`) are checked.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:qbo-openapi"
_METHODS = ("get", "post", "put", "patch", "delete")


class SpecViolation(AssertionError):
    """An exchange the OpenAPI document does not allow."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pointer: str  # JSON pointer to the operation object
    definition: dict[str, Any]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _absolutise(node: Any) -> Any:
    """Point local `#/...` refs of an inline schema at the whole document."""
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _absolutise(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_absolutise(v) for v in node]
    return node


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class SpecValidator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry: Registry = Registry().with_resource(SPEC_URI, Resource(spec, specification=DRAFT202012))
        self.operations: list[tuple[re.Pattern[str], Operation]] = []
        for template, item in spec.get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$")
            for method in _METHODS:
                if method in item:
                    self.operations.append((regex, Operation(method.upper(), template,
                                                             f"/paths/{_escape(template)}/{method}", item[method])))
        # literal paths before templated ones
        self.operations.sort(key=lambda pair: pair[1].template.count("{"))
        self._validators: dict[str, Draft202012Validator] = {}

    # -- lookup ------------------------------------------------------------------------
    def operation(self, method: str, url: str) -> Operation | None:
        path = urlsplit(url).path
        for regex, op in self.operations:
            if op.method == method.upper() and regex.match(path):
                return op
        return None

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target: Any = self.spec
            for token in ref[2:].split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = Draft202012Validator(
                _absolutise(schema), registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self._validators[key]

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        errors = sorted(self._validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_describe(e) for e in errors]

    def component(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    # -- checks ------------------------------------------------------------------------
    def check_response(self, method: str, url: str, status: int, headers: Any, body: bytes) -> Operation:
        op = self.operation(method, url)
        where = f"{method} {urlsplit(url).path} -> {status}"
        if op is None:
            raise SpecViolation(f"{where}: no operation in the spec for this path")
        responses = op.definition.get("responses", {})
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if response is None:
            raise SpecViolation(f"{where}: status {status} is not documented (documented: {sorted(responses)})\n"
                                f"{body[:2000]!r}")
        response = self.deref(response)
        for name, header in response.get("headers", {}).items():
            header = self.deref(header)
            if header.get("required") and name not in headers:
                raise SpecViolation(f"{where}: required header {name!r} is missing")
        content = response.get("content")
        if not content:
            if body.strip():
                raise SpecViolation(f"{where}: the spec documents no body but got {body[:500]!r}")
            return op
        media = _media(headers.get("Content-Type"))
        if media not in content:
            raise SpecViolation(f"{where}: Content-Type {media!r} is not one of {sorted(content)}")
        schema = content[media].get("schema")
        if schema is not None and media.endswith("json"):
            try:
                instance = json.loads(body)
            except ValueError as exc:
                raise SpecViolation(f"{where}: body is not JSON ({exc}): {body[:500]!r}") from None
            errors = self.schema_errors(schema, instance)
            if errors:
                raise SpecViolation(f"{where}: body does not match the spec:\n  " + "\n  ".join(errors[:20])
                                    + f"\nbody: {json.dumps(instance)[:3000]}")
        return op

    def check_full_rows(self, statement: str, body: bytes) -> None:
        """`SELECT *` returns whole entities: each row must also pass the entity's full schema
        (the document itself only types query rows, since a projection may drop any field)."""
        if not SELECT_ALL.match(statement):
            return
        schemas = self.spec.get("components", {}).get("schemas", {})
        for entity, rows in json.loads(body).get("QueryResponse", {}).items():
            if entity in schemas and isinstance(rows, list):
                for n, row in enumerate(rows):
                    errors = self.schema_errors(self.component(entity), row)
                    if errors:
                        raise SpecViolation(f"{statement!r}: row {n} is not a whole {entity}:\n  "
                                            + "\n  ".join(errors[:20]) + f"\nrow: {json.dumps(row)[:2000]}")

    def check_request(self, method: str, url: str, headers: Any, body: bytes | str | None) -> Operation | None:
        op = self.operation(method, url)
        if op is None:
            return None
        where = f"request {method} {urlsplit(url).path}"
        request_body = op.definition.get("requestBody")
        if request_body is None:
            return op
        request_body = self.deref(request_body)
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if not raw.strip():
            if request_body.get("required"):
                raise SpecViolation(f"{where}: the spec requires a body")
            return op
        media = _media(headers.get("Content-Type"))
        content = request_body["content"]
        if media not in content:
            raise SpecViolation(f"{where}: Content-Type {media!r} is not one of {sorted(content)}")
        schema = content[media].get("schema")
        if schema is None:
            return op
        if media.endswith("json"):
            instance: Any = json.loads(raw)
        elif media == "application/x-www-form-urlencoded":
            instance = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        else:
            instance = raw.decode()
        errors = self.schema_errors(schema, instance)
        if errors:
            raise SpecViolation(f"{where}: body does not match the spec:\n  " + "\n  ".join(errors[:20])
                                + f"\nbody: {raw[:3000]!r}")
        return op


def _statement(request: requests.PreparedRequest) -> str:
    if request.method == "GET":
        return parse_qs(urlsplit(request.url or "").query).get("query", [""])[0]
    body = request.body or b""
    return body.decode() if isinstance(body, bytes) else body


SELECT_ALL = re.compile(r"^\s*select\s+\*\s*(,\s*sku\s*)?from\s", re.IGNORECASE)


def _describe(error: ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path) or "(root)"
    message = error.message if len(error.message) < 400 else error.message[:400] + "..."
    if error.context:  # anyOf / oneOf: say why each branch failed
        best = sorted(error.context, key=lambda e: -len(e.absolute_path))[:3]
        message += " [" + "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in best) + "]"
    return f"{path}: {message}"


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    request_body: bytes | str | None
    response_body: bytes
    operation: str | None

    def json(self) -> Any:
        return json.loads(self.response_body)


@dataclass
class Recorder:
    """Validates (and keeps) every exchange made through `requests` while installed.

    `skip(url)` says which URLs are not the QBO API or OAuth (e.g. `/_sim`).
    `strict` makes an exchange on a path the spec does not describe a violation.
    """

    validator: SpecValidator
    skip: Callable[[str], bool]
    strict: bool = True
    exchanges: list[Exchange] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    check_requests: bool = True

    @contextmanager
    def off_spec_requests(self) -> Iterator[None]:
        """For tests that send a wrong request on purpose: their answers are still checked."""
        self.check_requests = False
        try:
            yield
        finally:
            self.check_requests = True

    def install(self, monkeypatch: Any) -> "Recorder":
        original = requests.Session.send
        recorder = self

        def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            response = original(session, request, **kwargs)
            recorder.observe(request, response)
            return response

        monkeypatch.setattr(requests.Session, "send", send)
        return self

    def observe(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        url = request.url or ""
        if self.skip(url):
            return
        method = request.method or "GET"
        op: Operation | None = None
        try:
            if self.validator.operation(method, url) is None and not self.strict:
                return
            if self.check_requests:
                self.validator.check_request(method, url, request.headers, request.body)
            op = self.validator.check_response(method, url, response.status_code, response.headers,
                                               response.content)
            if response.status_code == 200 and op.definition.get("operationId") in ("queryGet", "queryPost"):
                self.validator.check_full_rows(_statement(request), response.content)
        except SpecViolation as exc:
            self.violations.append(str(exc))
            raise
        finally:
            self.exchanges.append(Exchange(method, url, response.status_code, request.body, response.content,
                                           op.definition.get("operationId") if op else None))

    def last(self, operation_id: str | None = None) -> Exchange:
        for exchange in reversed(self.exchanges):
            if operation_id is None or exchange.operation == operation_id:
                return exchange
        raise AssertionError(f"no exchange for {operation_id!r}")

    def operations(self) -> Iterable[str | None]:
        return [e.operation for e in self.exchanges]
