"""Validation and evaluation of QBO queries over plain record dicts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.fake_qbo.query import (
    ALLOWED_OPS,
    Cond,
    FieldType,
    Order,
    Query,
    QueryError,
    Star,
    apply,
    bind,
    default_active_filter,
    index_hints,
    matches,
    parse,
    sort_key,
    validate,
)

T = FieldType
FIELDS = {
    "Id": T.ID,
    "DisplayName": T.STRING,
    "Active": T.BOOL,
    "Balance": T.DECIMAL,
    "Qty": T.INT,
    "TxnDate": T.DATE,
    "MetaData.LastUpdatedTime": T.DATETIME,
    "CustomerRef": T.REF,
    "CurrencyRef": T.REF,
    "Status": T.ENUM,
    "Sku": T.STRING,
}


def rec(id_: str, **values) -> dict:
    return {"Id": id_, **values}


def hit(where: str, record: dict) -> bool:
    return matches(parse(f"SELECT * FROM Customer WHERE {where}"), record, FIELDS)


def run(text: str, records, **kw):
    return apply(parse(text), records, FIELDS, **kw)


def ids(result) -> list[str]:
    return [r["Id"] for r in result.rows]


def error_of(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        validate(parse(text), FIELDS)
    return info.value


# ------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM Customer WHERE Foo = 'x'",
        "SELECT * FROM Customer ORDERBY Foo",
        "SELECT Id, Foo FROM Customer",
        "SELECT *, Foo FROM Customer",
        "SELECT * FROM Customer WHERE MetaData.Foo = 'x'",
        "SELECT * FROM Customer WHERE MetaData = 'x'",
    ],
)
def test_unknown_property_is_4001(text):
    err = error_of(text)
    assert (err.code, err.message) == ("4001", "Invalid query")
    assert err.detail.startswith("QueryValidationError: property '")
    assert err.detail.endswith("' is not queryable")


def test_unknown_property_detail_names_it_as_written():
    assert error_of("SELECT * FROM Customer WHERE Foo = 'x'").detail == (
        "QueryValidationError: property 'Foo' is not queryable"
    )


def test_property_names_are_case_insensitive_and_bound_to_canonical():
    q = bind(
        parse(
            "SELECT displayname, metadata.lastupdatedtime FROM Customer "
            "WHERE DISPLAYNAME = 'a' AND metadata.LASTUPDATEDTIME > '2025-01-01' ORDERBY balance"
        ),
        FIELDS,
    )
    assert q.select.names == ("DisplayName", "MetaData.LastUpdatedTime")
    assert [c.path for c in q.where] == ["DisplayName", "MetaData.LastUpdatedTime"]
    assert q.order == (Order("Balance"),)


def test_exact_spelling_wins_over_case_folded_match():
    fields = {"name": T.STRING, "Name": T.INT}
    assert bind(parse("SELECT * FROM A WHERE Name = 1"), fields).where[0].path == "Name"
    assert bind(parse("SELECT * FROM A WHERE name = 'x'"), fields).where[0].path == "name"


def test_id_is_implicitly_queryable():
    validate(parse("SELECT * FROM A WHERE id IN ('1', 2) ORDERBY ID"), {"Name": T.STRING})


ALL_OPS = ["=", "<", ">", "<=", ">=", "LIKE", "IN"]
SAMPLE = {
    T.STRING: ("DisplayName", "'x'"),
    T.BOOL: ("Active", "true"),
    T.DECIMAL: ("Balance", "1"),
    T.ID: ("Id", "'1'"),
    T.INT: ("Qty", "1"),
    T.DATE: ("TxnDate", "'2025-01-01'"),
    T.DATETIME: ("MetaData.LastUpdatedTime", "'2025-01-01T00:00:00Z'"),
    T.REF: ("CustomerRef", "'1'"),
    T.ENUM: ("Status", "'Paid'"),
}


@pytest.mark.parametrize("ftype", list(T))
@pytest.mark.parametrize("op", ALL_OPS)
def test_operator_matrix(ftype, op):
    path, value = SAMPLE[ftype]
    if op == "LIKE":
        value = "'x%'"
    rhs = f"({value})" if op == "IN" else value
    text = f"SELECT * FROM Customer WHERE {path} {op} {rhs}"
    expected = {
        T.STRING: set(ALL_OPS),
        T.REF: {"=", "IN", "LIKE"},
        T.ENUM: {"=", "IN", "LIKE"},
        T.BOOL: {"=", "IN"},
    }.get(ftype, {"=", "<", ">", "<=", ">=", "IN"})
    assert ALLOWED_OPS[ftype] == expected
    if op in expected:
        validate(parse(text), FIELDS)
    else:
        err = error_of(text)
        assert err.code == "4001"
        assert f"operator '{op}' is not supported for property '{path}'" in err.detail


@pytest.mark.parametrize(
    "where",
    [
        "Balance = 'abc'",
        "Balance > true",
        "Balance IN (1, 'two')",
        "DisplayName = 5",
        "DisplayName = false",
        "DisplayName LIKE 5",
        "Status = 1",
        "Active = 'yes'",
        "Active = 1",
        "Id = 'abc'",
        "Id = 1.5",
        "Id = true",
        "Qty = 1.5",
        "Qty = 'x'",
        "TxnDate = '2025-13-01'",
        "TxnDate = '01/02/2025'",
        "TxnDate = 20250101",
        "MetaData.LastUpdatedTime > 'yesterday'",
        "MetaData.LastUpdatedTime > 5",
        "CustomerRef = 1.5",
        "CustomerRef = true",
        "CustomerRef LIKE 5",
    ],
)
def test_uncoercible_value_is_4002(where):
    err = error_of(f"SELECT * FROM Customer WHERE {where}")
    assert (err.code, err.message) == ("4002", "Error processing query")
    assert err.detail.startswith("QueryValidationError: value ")


def test_4002_detail():
    assert error_of("SELECT * FROM Customer WHERE Balance = 'abc'").detail == (
        "QueryValidationError: value 'abc' is not a valid DECIMAL for property 'Balance'"
    )


@pytest.mark.parametrize(
    "where",
    [
        "Balance = '12.50'",
        "Id = 7",
        "Id = '7'",
        "Qty = '3'",
        "Qty = 3.0",
        "Active = 'TRUE'",
        "CustomerRef = 58",
        "CurrencyRef = 'USD'",
        "MetaData.LastUpdatedTime > '2025-01-01'",
        "MetaData.LastUpdatedTime > '2025-01-01T10:00:00'",
        "MetaData.LastUpdatedTime > '2025-01-01T10:00:00.123-08:00'",
        "MetaData.LastUpdatedTime > '2025-01-01T10:00:00Z'",
    ],
)
def test_lenient_but_coercible_values_are_accepted(where):
    validate(parse(f"SELECT * FROM Customer WHERE {where}"), FIELDS)


@pytest.mark.parametrize(
    "paging, detail",
    [
        ("MAXRESULTS 0", "MAXRESULTS must be 1 or greater, got 0"),
        ("MAXRESULTS -5", "MAXRESULTS must be 1 or greater, got -5"),
        ("STARTPOSITION -1", "STARTPOSITION must be 1 or greater, got -1"),
    ],
)
def test_bad_paging_is_4000(paging, detail):
    err = error_of(f"SELECT * FROM Customer {paging}")
    assert (err.code, err.message) == ("4000", "Error parsing query")
    assert err.detail == f"QueryParserError: {detail}"


# --------------------------------------------------------------- matching


def test_string_equality_is_case_insensitive():
    r = rec("1", DisplayName="Acme Inc")
    assert hit("DisplayName = 'acme inc'", r)
    assert hit("DisplayName = 'ACME INC'", r)
    assert not hit("DisplayName = 'Acme'", r)
    assert not hit("DisplayName = 'Acme Inc '", r)


def test_string_ordering_and_in():
    r = rec("1", DisplayName="bravo")
    assert hit("DisplayName > 'ALPHA'", r) and hit("DisplayName >= 'Bravo'", r)
    assert hit("DisplayName < 'Charlie'", r) and hit("DisplayName <= 'BRAVO'", r)
    assert not hit("DisplayName < 'alpha'", r)
    assert hit("DisplayName IN ('x', 'BRAVO')", r)
    assert not hit("DisplayName IN ('x', 'y')", r)


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("Acme%", True),
        ("%Corp", True),
        ("%me C%", True),
        ("A%p", True),
        ("A%e%o%p", True),
        ("%", True),
        ("acme corp", True),
        ("ACME%", True),
        ("Acme", False),
        ("%Inc", False),
        ("Acme_Corp", False),
        ("A.*", False),
    ],
)
def test_like_wildcards(pattern, expected):
    assert hit(f"DisplayName LIKE '{pattern}'", rec("1", DisplayName="Acme Corp")) is expected


def test_like_treats_regex_and_underscore_literally():
    r = rec("1", DisplayName="a_b (c)*")
    assert hit("DisplayName LIKE 'a_b (c)*'", r)
    assert hit("DisplayName LIKE '%(c)%'", r)
    assert not hit("DisplayName LIKE 'aXb%'", rec("2", DisplayName="a_b"))


def test_escaped_apostrophe_and_backslash_match():
    assert hit(r"DisplayName = 'O\'Brien'", rec("1", DisplayName="O'Brien"))
    assert hit(r"DisplayName = 'a\\b'", rec("1", DisplayName="a\\b"))
    assert hit(r"DisplayName LIKE 'O\'%'", rec("1", DisplayName="O'Brien"))


def test_bool():
    on, off = rec("1", Active=True), rec("2", Active=False)
    assert hit("Active = true", on) and not hit("Active = true", off)
    assert hit("Active = False", off) and not hit("Active = false", on)
    assert hit("Active IN (true, false)", on) and hit("Active IN (true, false)", off)
    assert hit("Active = 'true'", on)
    assert hit("Active = true", rec("3", Active="true"))  # stored as text


@pytest.mark.parametrize(
    "where, expected",
    [
        ("Balance = 12.5", True),
        ("Balance = 12.50", True),
        ("Balance = '12.5'", True),
        ("Balance > 12", True),
        ("Balance > 12.5", False),
        ("Balance >= 12.5", True),
        ("Balance < 13", True),
        ("Balance <= 12.49", False),
        ("Balance > -1", True),
        ("Balance IN (1, 12.5)", True),
        ("Balance IN (1, 2)", False),
    ],
)
def test_decimal(where, expected):
    assert hit(where, rec("1", Balance=Decimal("12.50"))) is expected


@pytest.mark.parametrize("stored", [Decimal("12.5"), "12.5", 12.5, "12.50"])
def test_decimal_stored_forms(stored):
    assert hit("Balance = 12.5", rec("1", Balance=stored))


def test_decimal_negative():
    assert hit("Balance < -0.5", rec("1", Balance=Decimal("-1")))


def test_id_compares_numerically():
    r = rec("10")
    assert hit("Id > '9'", r)  # text comparison would say "10" < "9"
    assert hit("Id = 10", r) and hit("Id = '010'", r)
    assert hit("Id IN ('1', '10')", r) and not hit("Id IN ('1', '2')", r)
    assert hit("Id <= 10", r) and not hit("Id < 10", r) and hit("Id >= '10'", r)


def test_int():
    r = rec("1", Qty=3)
    assert hit("Qty = 3", r) and hit("Qty > 2", r) and hit("Qty IN (1, 3)", r)
    assert hit("Qty = '3'", rec("2", Qty="3"))
    assert not hit("Qty < 3", r)


def test_date():
    r = rec("1", TxnDate="2025-03-15")
    assert hit("TxnDate = '2025-03-15'", r)
    assert hit("TxnDate > '2025-03-14'", r) and hit("TxnDate < '2025-03-16'", r)
    assert hit("TxnDate >= '2025-03-15'", r) and hit("TxnDate <= '2025-03-15'", r)
    assert hit("TxnDate IN ('2025-01-01', '2025-03-15')", r)
    assert not hit("TxnDate > '2025-03-15'", r)


def test_datetime_compares_instants_across_offsets():
    r = {"Id": "1", "MetaData": {"LastUpdatedTime": "2025-01-01T00:00:00-08:00"}}
    assert hit("MetaData.LastUpdatedTime = '2025-01-01T08:00:00Z'", r)
    assert hit("MetaData.LastUpdatedTime = '2025-01-01T08:00:00+00:00'", r)
    assert hit("MetaData.LastUpdatedTime > '2025-01-01T07:59:59Z'", r)
    assert hit("MetaData.LastUpdatedTime < '2025-01-01T03:00:00-05:00'", r) is False
    assert hit("MetaData.LastUpdatedTime >= '2025-01-01T00:00:00-08:00'", r)
    assert hit("MetaData.LastUpdatedTime <= '2025-01-01T00:00:00.000-08:00'", r)
    assert hit("MetaData.LastUpdatedTime IN ('2025-01-01T09:00:00+01:00')", r)


def test_naive_datetime_and_bare_date_are_utc():
    r = {"Id": "1", "MetaData": {"LastUpdatedTime": "2025-01-01T00:30:00+00:00"}}
    assert hit("MetaData.LastUpdatedTime > '2025-01-01'", r)
    assert hit("MetaData.LastUpdatedTime > '2025-01-01T00:29:59'", r)
    assert not hit("MetaData.LastUpdatedTime > '2025-01-01T00:30:00'", r)
    pacific = {"Id": "2", "MetaData": {"LastUpdatedTime": "2024-12-31T20:00:00-08:00"}}
    assert hit("MetaData.LastUpdatedTime > '2025-01-01'", pacific)  # 04:00Z


def test_ref_compares_on_value_like_ids():
    r = rec("1", CustomerRef={"value": "58", "name": "Acme"})
    assert hit("CustomerRef = '58'", r) and hit("CustomerRef = 58", r)
    assert not hit("CustomerRef = 'Acme'", r)
    assert hit("CustomerRef IN ('1', '58')", r) and not hit("CustomerRef IN ('5', '8')", r)
    assert hit("CustomerRef LIKE '5%'", r) and not hit("CustomerRef LIKE 'A%'", r)
    usd = rec("2", CurrencyRef={"value": "USD", "name": "United States Dollar"})
    assert hit("CurrencyRef = 'USD'", usd) and hit("CurrencyRef = 'usd'", usd)
    assert hit("CustomerRef = '58'", rec("3", CustomerRef="58"))  # bare value tolerated


def test_enum_is_a_case_insensitive_string():
    r = rec("1", Status="Paid")
    assert hit("Status = 'paid'", r) and hit("Status IN ('Open', 'PAID')", r)
    assert hit("Status LIKE 'Pa%'", r) and not hit("Status = 'Open'", r)


@pytest.mark.parametrize(
    "where",
    [
        "DisplayName = 'x'",
        "DisplayName LIKE '%'",
        "DisplayName > ''",
        "Balance >= 0",
        "Balance < 0",
        "Active = false",
        "Active IN (true, false)",
        "Id > 0",
        "TxnDate > '1900-01-01'",
        "MetaData.LastUpdatedTime > '1900-01-01'",
        "CustomerRef LIKE '%'",
        "CustomerRef IN ('1')",
        "Status LIKE '%'",
    ],
)
@pytest.mark.parametrize(
    "record",
    [
        {},
        {
            "DisplayName": None,
            "Balance": None,
            "Active": None,
            "TxnDate": None,
            "MetaData": None,
            "CustomerRef": None,
            "Status": None,
        },
        {"MetaData": {}, "CustomerRef": {"name": "no value"}, "Balance": "n/a", "TxnDate": "soon"},
    ],
    ids=["absent", "null", "unreadable"],
)
def test_missing_null_or_unreadable_never_matches(where, record):
    assert not hit(where, record)


def test_matches_accepts_query_cond_or_conds():
    r = rec("1", DisplayName="Acme", Balance=Decimal(5))
    assert matches(Cond("DisplayName", "=", "acme"), r, FIELDS)
    assert matches([Cond("DisplayName", "=", "acme"), Cond("Balance", ">", Decimal(4))], r, FIELDS)
    both = (Cond("DisplayName", "=", "acme"), Cond("Balance", ">", Decimal(5)))
    assert not matches(both, r, FIELDS)
    assert matches([], r, FIELDS)
    assert matches(parse("SELECT * FROM Customer"), r, FIELDS)


def test_matches_validates():
    with pytest.raises(QueryError) as info:
        matches(Cond("Nope", "=", "x"), {}, FIELDS)
    assert info.value.code == "4001"


def test_and_requires_every_condition():
    r = rec("1", DisplayName="Acme", Active=True)
    assert hit("DisplayName = 'Acme' AND Active = true", r)
    assert not hit("DisplayName = 'Acme' AND Active = false", r)


# ------------------------------------------------------------------ apply

PEOPLE = [
    rec("10", DisplayName="bob", Balance=Decimal("5"), Active=True),
    rec("9", DisplayName="Alice", Balance=Decimal("5"), Active=True),
    rec("100", DisplayName="carol", Balance=Decimal("1"), Active=False),
    rec("2", DisplayName="Dave", Active=True),
    rec("33", DisplayName="alice", Balance=Decimal("7.25"), Active=True),
]


def test_default_order_is_id_numeric():
    assert ids(run("SELECT * FROM Customer", PEOPLE)) == ["2", "9", "10", "33", "100"]


def test_order_by_string_case_insensitive_with_id_tiebreak():
    result = run("SELECT * FROM Customer ORDER BY DisplayName", PEOPLE)
    assert ids(result) == ["9", "33", "10", "100", "2"]


def test_multi_key_order_with_desc_and_missing_values():
    result = run("SELECT * FROM Customer ORDERBY Balance DESC, DisplayName", PEOPLE)
    # Missing Balance sorts first ascending, hence last descending.
    assert ids(result) == ["33", "9", "10", "100", "2"]
    result = run("SELECT * FROM Customer ORDERBY Balance, DisplayName DESC", PEOPLE)
    assert ids(result) == ["2", "100", "10", "9", "33"]


def test_order_by_id_desc():
    result = run("SELECT * FROM Customer ORDERBY Id DESC", PEOPLE)
    assert ids(result) == ["100", "33", "10", "9", "2"]


def test_sort_key_is_usable_directly():
    key = sort_key((Order("balance", True),), FIELDS)
    assert [r["Id"] for r in sorted(PEOPLE, key=key)] == ["33", "9", "10", "100", "2"]


def test_where_order_and_paging_together():
    text = (
        "SELECT * FROM Customer WHERE Balance >= 1 ORDERBY Balance DESC "
        "STARTPOSITION 2 MAXRESULTS 2"
    )
    result = run(text, PEOPLE)
    assert ids(result) == ["9", "10"]
    assert (result.total, result.start, result.max) == (4, 2, 2)


def test_paging_edges():
    assert ids(run("SELECT * FROM Customer STARTPOSITION 0 MAXRESULTS 2", PEOPLE)) == ["2", "9"]
    assert ids(run("SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 2", PEOPLE)) == ["2", "9"]
    assert ids(run("SELECT * FROM Customer STARTPOSITION 5", PEOPLE)) == ["100"]
    tail = run("SELECT * FROM Customer STARTPOSITION 6", PEOPLE)
    assert tail.rows == [] and tail.total == 5


def test_max_results_default_and_cap():
    many = [rec(str(i)) for i in range(1, 1206)]
    default = run("SELECT * FROM Customer", many)
    assert (len(default.rows), default.max, default.total) == (100, 100, 1205)
    capped = run("SELECT * FROM Customer MAXRESULTS 5000", many)
    assert (len(capped.rows), capped.max) == (1000, 1000)
    assert capped.rows[-1]["Id"] == "1000"


def test_count():
    result = run("SELECT COUNT(*) FROM Customer WHERE Balance = 5", PEOPLE)
    assert (result.rows, result.total) == ([], 2)
    assert run("SELECT COUNT(*) FROM Customer MAXRESULTS 1", PEOPLE).total == 5


def test_projection_keeps_id_and_requested_fields():
    records = [
        {
            "Id": "1",
            "DisplayName": "Acme",
            "Balance": Decimal("3"),
            "MetaData": {"CreateTime": "x", "LastUpdatedTime": "2025-01-01T00:00:00Z"},
            "CustomerRef": {"value": "5", "name": "n"},
        },
        {"Id": "2", "Balance": Decimal("4")},
    ]
    result = run(
        "SELECT DisplayName, MetaData.LastUpdatedTime, CustomerRef FROM Customer", records
    )
    assert result.rows == [
        {
            "Id": "1",
            "DisplayName": "Acme",
            "MetaData": {"LastUpdatedTime": "2025-01-01T00:00:00Z"},
            "CustomerRef": {"value": "5", "name": "n"},
        },
        {"Id": "2"},
    ]


def test_projection_uses_canonical_names():
    result = run("SELECT displayname FROM Customer WHERE Id = 9", PEOPLE)
    assert result.rows == [{"Id": "9", "DisplayName": "Alice"}]


def test_star_with_extra_field_keeps_everything():
    items = [{"Id": "1", "Name": "Widget", "Sku": "W-1", "UnitPrice": Decimal("2")}]
    assert run("SELECT *, Sku FROM Item", items).rows == items


def test_rows_are_copies():
    records = [{"Id": "1", "MetaData": {"LastUpdatedTime": "2025-01-01T00:00:00Z"}}]
    row = run("SELECT * FROM Customer", records).rows[0]
    row["MetaData"]["LastUpdatedTime"] = "changed"
    assert records[0]["MetaData"]["LastUpdatedTime"] == "2025-01-01T00:00:00Z"


def test_apply_validates_first():
    with pytest.raises(QueryError) as info:
        run("SELECT * FROM Customer WHERE Balance = 'abc'", PEOPLE)
    assert info.value.code == "4002"
    with pytest.raises(QueryError) as info:
        run("SELECT * FROM Customer MAXRESULTS 0", PEOPLE)
    assert info.value.code == "4000"


def test_apply_accepts_any_iterable():
    assert run("SELECT COUNT(*) FROM Customer", iter(PEOPLE)).total == 5


def test_active_only_applies_implicit_filter_unless_active_is_mentioned():
    assert "100" not in ids(run("SELECT * FROM Customer", PEOPLE, active_only=True))
    assert run("SELECT COUNT(*) FROM Customer", PEOPLE, active_only=True).total == 4
    inactive = run("SELECT * FROM Customer WHERE Active = false", PEOPLE, active_only=True)
    assert ids(inactive) == ["100"]
    both = run("SELECT * FROM Customer WHERE active IN (true, false)", PEOPLE, active_only=True)
    assert both.total == 5
    assert run("SELECT * FROM Customer", [rec("1")], active_only=True).total == 1
    assert run("SELECT * FROM Customer", PEOPLE).total == 5


# ------------------------------------------------------------------ hints


def test_default_active_filter():
    assert default_active_filter(parse("SELECT * FROM Customer"))
    assert default_active_filter(parse("SELECT * FROM Customer WHERE DisplayName = 'x'"))
    assert not default_active_filter(parse("SELECT * FROM Customer WHERE Active = false"))
    assert not default_active_filter(parse("SELECT * FROM Customer WHERE active IN (true, false)"))
    assert not default_active_filter(parse("SELECT * FROM Customer WHERE ACTIVE = true"))


def test_index_hints():
    q = parse(
        "SELECT * FROM Customer WHERE displayname = 'Acme' AND Id IN ('1', '2') "
        "AND metadata.lastupdatedtime >= '2025-01-01' AND Balance > 3 "
        "AND DisplayName LIKE 'Ac%' AND DisplayName LIKE '%me' AND DisplayName LIKE 'A%e' "
        "AND DisplayName LIKE 'A_%' AND Active = true"
    )
    hints = index_hints(q, {"DisplayName", "Id", "MetaData.LastUpdatedTime", "Active"})
    assert hints == [
        Cond("DisplayName", "=", "Acme"),
        Cond("Id", "IN", ("1", "2")),
        Cond("MetaData.LastUpdatedTime", ">=", "2025-01-01"),
        Cond("DisplayName", "LIKE", "Ac%"),
        Cond("Active", "=", True),
    ]
    assert index_hints(q, ()) == []
    assert index_hints(parse("SELECT * FROM Customer"), {"Id"}) == []


records_st = st.lists(
    st.builds(
        lambda i, bal, name: {"Id": str(i), "Balance": bal, "DisplayName": name},
        st.integers(1, 10_000),
        st.none() | st.decimals(-100, 100, places=2),
        st.sampled_from(["a", "A", "b", "Bb", "c"]),
    ),
    max_size=25,
    unique_by=lambda r: r["Id"],
)


@settings(max_examples=60, deadline=None, database=None)
@given(
    records_st,
    st.decimals(-100, 100, places=1),
    st.sampled_from(["=", "<", ">", "<=", ">="]),
    st.integers(1, 7),
)
def test_pages_concatenate_to_the_full_ordered_result(records, bound, op, size):
    where = f"WHERE Balance {op} {bound}"
    order = "ORDERBY DisplayName DESC, Balance"
    full = run(f"SELECT * FROM Customer {where} {order} MAXRESULTS 1000", records)
    pages: list[dict] = []
    for start in range(1, full.total + 1, size):
        paged = f"SELECT * FROM Customer {where} {order} STARTPOSITION {start} MAXRESULTS {size}"
        page = run(paged, records)
        assert page.total == full.total
        pages += page.rows
    assert pages == full.rows
    compare = {"=": "__eq__", "<": "__lt__", ">": "__gt__", "<=": "__le__", ">=": "__ge__"}[op]
    expected = [
        r for r in records if r["Balance"] is not None and getattr(r["Balance"], compare)(bound)
    ]
    assert sorted(r["Id"] for r in full.rows) == sorted(r["Id"] for r in expected)
    names = [r["DisplayName"].casefold() for r in full.rows]
    assert names == sorted(names, reverse=True)


def test_query_built_without_parser():
    q = Query(Star(), "Customer", (Cond("Balance", ">", Decimal(4)),), (Order("Id", True),))
    assert ids(apply(q, PEOPLE, FIELDS)) == ["33", "10", "9"]
