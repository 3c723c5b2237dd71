"""Parser and printer of the QBO query language (syntax only)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.fake_qbo.query import (
    Cond,
    Count,
    Fields,
    Order,
    Query,
    QueryError,
    Star,
    parse,
    to_text,
)

# --------------------------------------------------------------- statements


def test_python_quickbooks_filter_statement():
    q = parse(
        "SELECT * FROM Customer WHERE DisplayName = 'Acme' AND Active = True "
        "ORDERBY Id STARTPOSITION 1 MAXRESULTS 100"
    )
    assert q == Query(
        Star(),
        "Customer",
        (Cond("DisplayName", "=", "Acme"), Cond("Active", "=", True)),
        (Order("Id"),),
        1,
        100,
    )


def test_trailing_space_and_double_spaces():
    assert parse("SELECT * FROM Customer ") == Query(Star(), "Customer")
    # python-quickbooks' where() with an empty clause leaves two spaces.
    assert parse("SELECT * FROM Customer  MAXRESULTS 5") == Query(Star(), "Customer", max=5)


def test_star_with_extra_field():
    q = parse("SELECT *, Sku FROM Item MAXRESULTS 100")
    assert q.select == Fields(("Sku",), star=True)
    assert q.entity == "Item" and q.max == 100


def test_field_list():
    q = parse("SELECT Id, DisplayName, MetaData.LastUpdatedTime FROM Customer")
    assert q.select == Fields(("Id", "DisplayName", "MetaData.LastUpdatedTime"), star=False)


def test_count():
    q = parse("SELECT COUNT(*) FROM Customer WHERE Active = True")
    assert q.select == Count()
    assert q.where == (Cond("Active", "=", True),)
    assert parse("select count ( * ) from Customer").select == Count()


def test_lowercase_statement_and_lowercase_in():
    q = parse("select * from Customer where Active = true")
    assert q == Query(Star(), "Customer", (Cond("Active", "=", True),))
    q = parse("SELECT * FROM Customer WHERE Id in ('1', '2')")
    assert q.where == (Cond("Id", "IN", ("1", "2")),)


def test_keywords_in_any_case():
    q = parse(
        "sElEcT * FrOm Customer wHeRe Name LiKe 'a%' aNd Active = FALSE "
        "Order By Name dEsC, Id aSc StartPosition 3 MaxResults 7"
    )
    assert q.where == (Cond("Name", "LIKE", "a%"), Cond("Active", "=", False))
    assert q.order == (Order("Name", True), Order("Id", False))
    assert (q.start, q.max) == (3, 7)


@pytest.mark.parametrize("kw", ["ORDERBY", "ORDER BY", "order by", "OrderBy", "ORDER\n  BY"])
def test_orderby_spellings(kw):
    q = parse(f"SELECT * FROM Customer {kw} DisplayName DESC, Id")
    assert q.order == (Order("DisplayName", True), Order("Id", False))


def test_entity_kept_as_written():
    assert parse("select * from customer").entity == "customer"


def test_keyword_prefixed_names_are_identifiers():
    q = parse("SELECT * FROM Selection WHERE Inactive = true ORDERBY Descr, Ascending")
    assert q.entity == "Selection"
    assert q.where == (Cond("Inactive", "=", True),)
    assert q.order == (Order("Descr"), Order("Ascending"))


def test_whitespace_and_newlines_between_tokens():
    q = parse(
        "\n  SELECT\t*\nFROM\r\n Invoice\nWHERE\n Id\nIN\n(\n'1'\n,'2')AND Balance>=0\n"
        "ORDERBY\nId\nDESC\n STARTPOSITION\n2\nMAXRESULTS\n3\n"
    )
    assert q.where == (Cond("Id", "IN", ("1", "2")), Cond("Balance", ">=", Decimal("0")))
    assert q.order == (Order("Id", True),)
    assert (q.start, q.max) == (2, 3)


def test_paging_either_order_and_alone():
    q = parse("SELECT * FROM A MAXRESULTS 5 STARTPOSITION 2")
    assert (q.start, q.max) == (2, 5)
    assert parse("SELECT * FROM A STARTPOSITION 0").start == 0
    assert parse("SELECT * FROM A").start is None


# ------------------------------------------------------------ conditions


@pytest.mark.parametrize("op", ["=", "<", ">", "<=", ">="])
def test_comparison_operators(op):
    q = parse(f"SELECT * FROM Invoice WHERE Balance {op} 10")
    assert q.where == (Cond("Balance", op, Decimal("10")),)


def test_operators_without_spaces():
    q = parse("SELECT * FROM A WHERE a<=1 AND b>=2 AND c<3 AND d>4 AND e='x'")
    assert [c.op for c in q.where] == ["<=", ">=", "<", ">", "="]


def test_numbers_are_decimal_never_float():
    q = parse("SELECT * FROM A WHERE a = -12.50 AND b = 7 AND c = .5 AND d = 3.")
    values = [c.value for c in q.where]
    assert values == [Decimal("-12.50"), Decimal("7"), Decimal("0.5"), Decimal("3")]
    assert all(type(v) is Decimal for v in values)


def test_booleans_any_case():
    q = parse("SELECT * FROM A WHERE a = True AND b = FALSE AND c IN (true, False)")
    assert [c.value for c in q.where] == [True, False, (True, False)]


def test_in_mixed_values():
    q = parse("SELECT * FROM A WHERE Id IN ('1', 2, -3.5, true)")
    assert q.where[0].value == ("1", Decimal(2), Decimal("-3.5"), True)


def test_dotted_paths():
    q = parse("SELECT * FROM A WHERE MetaData.LastUpdatedTime >= '2025-01-01T00:00:00-08:00'")
    assert q.where == (Cond("MetaData.LastUpdatedTime", ">=", "2025-01-01T00:00:00-08:00"),)


def test_like_patterns_kept_verbatim():
    q = parse("SELECT * FROM A WHERE Name LIKE '%a_b%'")
    assert q.where == (Cond("Name", "LIKE", "%a_b%"),)


# -------------------------------------------------------------- strings


@pytest.mark.parametrize(
    "text, value",
    [
        (r"'O\'Brien'", "O'Brien"),
        (r"'back\\slash'", "back\\slash"),
        (r"'\\'", "\\"),
        (r"'\\\''", "\\'"),
        (r"'C:\temp'", "C:\\temp"),  # lone backslash: literal (python-quickbooks)
        ("''", ""),
        ("'line\nbreak'", "line\nbreak"),
        ("'unicodé ✓'", "unicodé ✓"),
        ("'a = b AND c'", "a = b AND c"),
    ],
)
def test_string_escapes(text, value):
    assert parse(f"SELECT * FROM A WHERE Name = {text}").where[0].value == value


def test_printer_escapes():
    q = Query(Star(), "A", (Cond("Name", "=", "O'Br\\ien"),))
    assert to_text(q) == r"SELECT * FROM A WHERE Name = 'O\'Br\\ien'"
    assert parse(to_text(q)) == q


# --------------------------------------------------------------- errors


def _error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_query(text):
    err = _error(text)
    assert (err.code, err.message) == ("4000", "Error parsing query")
    assert err.detail == "QueryParserError: The query provided was empty"


def test_syntax_error_detail_like_intuit():
    err = _error("SELECT * FROM Customer WHERE DisplayName = R")
    assert (err.code, err.message) == ("4000", "Error parsing query")
    assert err.detail.startswith(
        'QueryParserError: Encountered " <IDENTIFIER> "R "" at line 1, column 44. '
        "Was expecting one of: "
    )
    assert "<STRING_LITERAL>" in err.detail and '"true"' in err.detail


def test_syntax_error_on_keyword_reports_line_and_column():
    err = _error("SELECT * FROM Customer\nWHERE Name ORDER BY Id")
    assert 'Encountered " "order" "ORDER "" at line 2, column 12.' in err.detail
    assert '"like"' in err.detail and '"in"' in err.detail


def test_syntax_error_at_end_of_input():
    err = _error("SELECT * FROM")
    assert err.detail.startswith('QueryParserError: Encountered "<EOF>" at line 1, column 14.')
    assert "<IDENTIFIER>" in err.detail


def test_bad_character():
    err = _error("SELECT * FROM A WHERE a != 1")
    assert err.code == "4000"
    assert 'Encountered " "! ""' in err.detail


@pytest.mark.parametrize(
    "text",
    [
        "SELECT FROM Customer",
        "SELECT * Customer",
        "SELECT * FROM Customer WHERE",
        "SELECT * FROM A WHERE a = 1 OR b = 2",
        "SELECT * FROM A WHERE (a = 1)",
        "SELECT * FROM A WHERE a IN ()",
        "SELECT * FROM A WHERE a = 'unterminated",
        "SELECT * FROM A WHERE a = O'Brien'",
        "SELECT * FROM A WHERE a = 'x';",
        "SELECT * FROM A, B",
        "SELECT * FROM A JOIN B",
        "SELECT * FROM A GROUP BY a",
        "SELECT * FROM A ORDERBY",
        "SELECT * FROM A ORDER Id",
        "SELECT * FROM A MAXRESULTS 1.5",
        "SELECT * FROM A MAXRESULTS ten",
        "SELECT * FROM A MAXRESULTS 1 MAXRESULTS 2",
        "SELECT * FROM A STARTPOSITION 1 MAXRESULTS 2 STARTPOSITION 3",
        "SELECT * FROM A MAXRESULTS 5 ORDERBY Id",
        "SELECT Id, * FROM A",
        "SELECT COUNT(Id) FROM A",
        "SELECT * FROM A WHERE a = None",
        "SELECT * FROM A WHERE a. b = 1",
        "DELETE FROM A",
    ],
)
def test_syntax_errors(text):
    err = _error(text)
    assert err.code == "4000" and err.detail.startswith("QueryParserError: Encountered ")


def test_non_string_input_is_a_type_error():
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]


# -------------------------------------------------------------- printing


def test_canonical_text():
    q = parse(
        "select Id, Name from Item where Name like 'a%' and Id in ('1', 2) "
        "and Active = TRUE order by Name desc, Id startposition 1 maxresults 10"
    )
    assert to_text(q) == (
        "SELECT Id, Name FROM Item WHERE Name LIKE 'a%' AND Id IN ('1', 2) "
        "AND Active = true ORDERBY Name DESC, Id STARTPOSITION 1 MAXRESULTS 10"
    )
    assert to_text(parse("SELECT COUNT(*) FROM A")) == "SELECT COUNT(*) FROM A"
    assert to_text(parse("SELECT *, Sku FROM Item")) == "SELECT *, Sku FROM Item"


def test_printer_uses_plain_decimal_notation():
    q = Query(Star(), "A", (Cond("a", "=", Decimal("1E+3")), Cond("b", "<", Decimal("-2.5E-3"))))
    assert to_text(q) == "SELECT * FROM A WHERE a = 1000 AND b < -0.0025"
    assert parse(to_text(q)) == q


PYTHON_QUICKBOOKS_STATEMENTS = [
    "SELECT * FROM Customer WHERE DisplayName = 'Acme' AND Active = True ORDERBY Id "
    "STARTPOSITION 1 MAXRESULTS 100",
    "SELECT * FROM Customer ",
    "SELECT *, Sku FROM Item MAXRESULTS 100",
    "SELECT COUNT(*) FROM Customer WHERE Active = True",
    "SELECT * FROM Customer WHERE Id in ('1', '2')",
    "select * from Customer where Active = true",
    "SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien'",
    "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2025-01-01T00:00:00-08:00'",
    "SELECT * FROM Customer ORDER BY DisplayName DESC STARTPOSITION 101 MAXRESULTS 100",
]


@pytest.mark.parametrize("text", PYTHON_QUICKBOOKS_STATEMENTS)
def test_printed_client_statement_parses_back(text):
    q = parse(text)
    assert parse(to_text(q)) == q
    assert to_text(parse(to_text(q))) == to_text(q)


class _RecordingQB:
    """Stands in for python-quickbooks' client: records the query text."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def query(self, select: str) -> dict:
        self.sent.append(select)
        return {"QueryResponse": {"totalCount": 0}}


def test_statements_built_by_python_quickbooks_itself():
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.item import Item

    qb = _RecordingQB()
    Customer.filter(DisplayName="O'Brien", Active=True, Balance=Decimal("10.50"), qb=qb)
    Customer.filter(Active=True, order_by="Id", start_position=1, max_results=100, qb=qb)
    Customer.choose(["1", "2", 3], qb=qb)
    Customer.where("", order_by="DisplayName DESC", qb=qb)
    Customer.all(order_by="Id", start_position=11, max_results=10, qb=qb)
    Item.all(qb=qb)
    Customer.count("Active = True", qb=qb)
    Customer.count(qb=qb)
    parsed = [parse(text) for text in qb.sent]
    assert parsed[0].where == (
        Cond("DisplayName", "=", "O'Brien"),
        Cond("Active", "=", True),
        Cond("Balance", "=", Decimal("10.50")),
    )
    assert (parsed[1].order, parsed[1].start, parsed[1].max) == ((Order("Id"),), 1, 100)
    assert parsed[2].where == (Cond("Id", "IN", ("1", "2", Decimal(3))),)
    assert parsed[3].order == (Order("DisplayName", True),)
    assert (parsed[4].start, parsed[4].max) == (11, 10)
    assert parsed[5].select == Fields(("Sku",), star=True)
    assert parsed[6].select == Count() and parsed[6].where == (Cond("Active", "=", True),)
    assert parsed[7] == Query(Count(), "Customer")
    for q in parsed:
        assert parse(to_text(q)) == q


# ------------------------------------------------------------ Hypothesis

KEYWORDS = {
    "select", "from", "where", "and", "in", "like", "orderby", "order", "by",
    "asc", "desc", "startposition", "maxresults", "count", "true", "false",
}  # fmt: skip

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda n: n.lower() not in KEYWORDS
)
paths = st.lists(names, min_size=1, max_size=3).map(".".join)
decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False
)
scalars = st.one_of(st.text(max_size=12), decimals, st.booleans())
conds = st.one_of(
    st.builds(Cond, paths, st.sampled_from(["=", "<", ">", "<=", ">=", "LIKE"]), scalars),
    st.builds(Cond, paths, st.just("IN"), st.lists(scalars, min_size=1, max_size=4).map(tuple)),
)
selects = st.one_of(
    st.just(Star()),
    st.just(Count()),
    st.builds(Fields, st.lists(paths, min_size=1, max_size=3).map(tuple), st.booleans()),
)
orders = st.builds(Order, paths, st.booleans())
positions = st.none() | st.integers(min_value=-5, max_value=10**6)
queries = st.builds(
    Query,
    selects,
    names,
    st.lists(conds, max_size=4).map(tuple),
    st.lists(orders, max_size=3).map(tuple),
    positions,
    positions,
)


def _typed(q: Query) -> list:
    """Values with their types: ``==`` alone would equate True and Decimal(1)."""

    def tag(v):
        return tuple(tag(x) for x in v) if isinstance(v, tuple) else (type(v), v)

    return [(c.path, c.op, tag(c.value)) for c in q.where]


@settings(max_examples=300, deadline=None, database=None)
@given(queries)
def test_round_trip_print_then_parse(q):
    back = parse(to_text(q))
    assert back == q
    assert _typed(back) == _typed(q)


def _noisy_text(q: Query, draw) -> str:
    """Print ``q`` with random keyword case, whitespace and ORDER BY spelling."""

    def kw(word: str) -> str:
        flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
        return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips))

    def gap() -> str:
        return draw(st.sampled_from([" ", "  ", "\n", "\t", " \r\n "]))

    def lit(v) -> str:
        if isinstance(v, bool):
            return kw("true" if v else "false")
        return to_text(Query(Star(), "A", (Cond("x", "=", v),))).split(" = ", 1)[1]

    out = [kw("select")]
    if isinstance(q.select, Star):
        out.append("*")
    elif isinstance(q.select, Count):
        out.append(kw("count") + "(" + gap() + "*" + gap() + ")")
    else:
        star = "*" + gap() + "," + gap() if q.select.star else ""
        out.append(star + ("," + gap()).join(q.select.names))
    out += [kw("from"), q.entity]
    for i, c in enumerate(q.where):
        out.append(kw("where") if i == 0 else kw("and"))
        if c.op == "IN":
            values = ",".join(lit(v) for v in c.value)
            out.append(f"{c.path}{gap()}{kw('in')}{gap()}({values})")
        else:
            op = kw(c.op) if c.op == "LIKE" else c.op
            out.append(f"{c.path}{gap()}{op}{gap()}{lit(c.value)}")
    if q.order:
        out.append(kw(draw(st.sampled_from(["orderby", "order by", "order\nby"]))))
        keys = []
        for o in q.order:
            direction = kw("desc") if o.descending else draw(st.sampled_from(["", kw("asc")]))
            keys.append(f"{o.path} {direction}".rstrip())
        out.append(("," + gap()).join(keys))
    if q.start is not None:
        out.append(f"{kw('startposition')}{gap()}{q.start}")
    if q.max is not None:
        out.append(f"{kw('maxresults')}{gap()}{q.max}")
    return gap().join(out) + draw(st.sampled_from(["", " ", "\n"]))


@settings(max_examples=150, deadline=None, database=None)
@given(queries, st.data())
def test_parse_ignores_keyword_case_and_whitespace(q, data):
    text = _noisy_text(q, data.draw)
    assert parse(text) == q


def test_ast_rejects_shapes_the_printer_cannot_express():
    with pytest.raises(ValueError):
        Fields((), star=True)
    with pytest.raises(ValueError):
        Cond("a", "!=", "x")
    with pytest.raises(ValueError):
        Cond("a", "IN", ())
    with pytest.raises(ValueError):
        Cond("a", "IN", "x")
    with pytest.raises(ValueError):
        Cond("a", "=", ("x",))
