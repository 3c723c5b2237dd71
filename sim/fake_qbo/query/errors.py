"""The single exception type of the query package, shaped like a QBO fault."""

from __future__ import annotations

PARSE = "4000"
INVALID = "4001"
PROCESSING = "4002"

_MESSAGES = {
    PARSE: "Error parsing query",
    INVALID: "Invalid query",
    PROCESSING: "Error processing query",
}


class QueryError(Exception):
    """A query fault carrying Intuit's ``code``/``Message``/``Detail`` triple,
    so the HTTP layer can render it without knowing what went wrong."""

    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QueryError) and (self.code, self.message, self.detail) == (
            other.code,
            other.message,
            other.detail,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.detail))


def parse_error(detail: str) -> QueryError:
    """4000: the text is not a well-formed query (or paging is out of range)."""
    return QueryError(PARSE, _MESSAGES[PARSE], detail)


def invalid(detail: str) -> QueryError:
    """4001: well-formed, but names a property or operator the entity rejects."""
    return QueryError(INVALID, _MESSAGES[INVALID], detail)


def processing(detail: str) -> QueryError:
    """4002: a literal cannot be read as the type of the property it meets."""
    return QueryError(PROCESSING, _MESSAGES[PROCESSING], detail)
