"""Text -> :class:`Query`. Syntax only: property names and value types are
checked later against an entity's field map (see ``evaluate.validate``)."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .ast import Cond, Count, Fields, Order, Query, Star
from .errors import QueryError, parse_error

# JavaCC-style names, so error details read like Intuit's QueryParserError.
_TOKEN_LABELS = {
    "NAME": "<IDENTIFIER>",
    "STRING": "<STRING_LITERAL>",
    "NUMBER": "<NUMBER_LITERAL>",
    "INT": "<INTEGER_LITERAL>",
    "STAR": '"*"',
    "COMMA": '","',
    "LPAR": '"("',
    "RPAR": '")"',
    "COMPARE": '"=" ... "<" ... ">" ... "<=" ... ">="',
    "$END": "<EOF>",
}


def _label(terminal: str) -> str:
    return _TOKEN_LABELS.get(terminal, f'"{terminal.lower()}"')


def _unescape(quoted: str) -> str:
    """Strip quotes; ``\\'`` -> ``'`` and ``\\\\`` -> ``\\``. Any other
    backslash is kept literally (python-quickbooks never escapes backslashes)."""
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in "'\\":
            out.append(body[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _ToAst(Transformer):
    """Builds the frozen AST bottom-up while the LALR parser reduces."""

    def start(self, items):
        _select_kw, projection, _from_kw, entity, *rest = items
        where: tuple[Cond, ...] = ()
        order: tuple[Order, ...] = ()
        start = maxres = None
        for part in rest:
            if part is None:
                continue
            kind, payload = part
            if kind == "where":
                where = payload
            elif kind == "order":
                order = payload
            else:
                start, maxres = payload
        return Query(projection, str(entity), where, order, start, maxres)

    def star(self, _items):
        return Star()

    def count(self, _items):
        return Count()

    def star_fields(self, items):
        return Fields(items[2], star=True)

    def fields(self, items):
        return Fields(items[0], star=False)

    def name_list(self, items):
        return tuple(str(t) for t in items if t.type == "NAME")

    def where(self, items):
        return ("where", tuple(c for c in items if isinstance(c, Cond)))

    def compare(self, items):
        name, op, value = items
        return Cond(str(name), str(op), value)

    def like(self, items):
        name, _kw, value = items
        return Cond(str(name), "LIKE", value)

    def in_list(self, items):
        name = items[0]
        values = tuple(v for v in items[3:] if not isinstance(v, Token))
        return Cond(str(name), "IN", values)

    def string(self, items):
        return _unescape(str(items[0]))

    def number(self, items):
        return Decimal(str(items[0]))

    def true(self, _items):
        return True

    def false(self, _items):
        return False

    def order(self, items):
        return ("order", tuple(o for o in items if isinstance(o, Order)))

    def order_item(self, items):
        descending = len(items) > 1 and items[1]
        return Order(str(items[0]), bool(descending))

    def direction(self, items):
        return items[0].type == "DESC"

    def paging(self, items):
        found = dict(items)
        return ("paging", (found.get("start"), found.get("max")))

    def start_pos(self, items):
        return ("start", int(items[1]))

    def max_res(self, items):
        return ("max", int(items[1]))


_PARSER = Lark(
    resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8"),
    parser="lalr",
    lexer="contextual",
    transformer=_ToAst(),
    maybe_placeholders=False,
)


def parse(text: str) -> Query:
    """Parse one QBO query statement; raises ``QueryError`` code 4000 on bad syntax."""
    if not isinstance(text, str):
        raise TypeError(f"query text must be str, not {type(text).__name__}")
    if not text.strip():
        raise parse_error("QueryParserError: The query provided was empty")
    try:
        return _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None


def _end_position(text: str) -> tuple[int, int]:
    """1-based line/column just past the last character, for "<EOF>" errors."""
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _syntax_error(exc: UnexpectedInput, text: str) -> QueryError:
    """Render lark's error the way Intuit's JavaCC parser words it."""
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        expected = exc.expected
        if token.type == "$END":
            found = '"<EOF>"'
            line, column = _end_position(text.rstrip())
        else:
            found = f'" {_label(token.type)} "{token.value} ""'
            line, column = exc.line, exc.column
    elif isinstance(exc, UnexpectedCharacters):
        found = f'" "{exc.char} ""'
        expected = exc.allowed or set()
        line, column = exc.line, exc.column
    else:  # pragma: no cover - other UnexpectedInput kinds are not raised by LALR
        found, expected, line, column = '"<EOF>"', set(), exc.line, exc.column
    if line in (None, -1):
        line, column = 1, 1
    choices = " ".join(sorted(f"{_label(t)} ..." for t in expected))
    return parse_error(
        f"QueryParserError: Encountered {found} at line {line}, column {column}. "
        f"Was expecting one of: {choices}"
    )
