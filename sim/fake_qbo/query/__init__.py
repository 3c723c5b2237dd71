"""The QBO query language as a pure library: parse, print, validate, evaluate.

No I/O: the fake server feeds it query text, an entity's field map and the
stored records, and renders ``QueryError`` as a QBO fault.
"""

from .ast import OPERATORS, Cond, Count, Fields, Order, Query, Star
from .errors import INVALID, PARSE, PROCESSING, QueryError
from .evaluate import Result, apply, compile_where, matches, project, sort_key
from .fields import ALLOWED_OPS, NAIVE_TZ, FieldType
from .hints import default_active_filter, index_hints
from .parser import parse
from .printer import to_text
from .validate import DEFAULT_MAX_RESULTS, MAX_RESULTS_LIMIT, bind, paging, validate

__all__ = [
    "ALLOWED_OPS",
    "DEFAULT_MAX_RESULTS",
    "INVALID",
    "MAX_RESULTS_LIMIT",
    "NAIVE_TZ",
    "OPERATORS",
    "PARSE",
    "PROCESSING",
    "Cond",
    "Count",
    "FieldType",
    "Fields",
    "Order",
    "Query",
    "QueryError",
    "Result",
    "Star",
    "apply",
    "bind",
    "compile_where",
    "default_active_filter",
    "index_hints",
    "matches",
    "paging",
    "parse",
    "project",
    "sort_key",
    "to_text",
    "validate",
]
