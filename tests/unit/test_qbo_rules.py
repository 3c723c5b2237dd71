"""The fake QBO's entity rules as plain functions, and every EntitySpec through one set of checks."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.core import jsonutil
from sim.fake_qbo import api
from sim.fake_qbo.entities import SPECS, SPECS_BY_NAME, Kind, querying, resource, rules
from sim.fake_qbo.entities.accounts import ACCOUNT_TYPES, SUB_TYPES, classify
from sim.fake_qbo.errors import QboFault
from sim.fake_qbo.query import FieldType, parse


def code_of(excinfo: pytest.ExceptionInfo[QboFault]) -> str:
    return excinfo.value.code


# -- money -------------------------------------------------------------------------
@pytest.mark.parametrize("value,text", [
    (150, "150.0"), (Decimal("150.00"), "150.0"), (Decimal("10.50"), "10.5"), (Decimal("362.07"), "362.07"),
    (Decimal("1.005"), "1.01"), (Decimal("2.675"), "2.68"), (Decimal("-1.005"), "-1.01"), (0, "0.0"),
])
def test_money_rounds_half_up_to_the_cent_and_writes_few_decimals(value, text):
    assert str(rules.money(value)) == text


def test_money_never_shows_a_float_artefact():
    total = rules.money(sum([Decimal("0.1"), Decimal("0.2")], Decimal(0)))
    assert jsonutil.dumps({"TotalAmt": total}) == '{"TotalAmt":0.3}' and str(total) == "0.3"


@given(st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, allow_infinity=False, places=4))
def test_money_is_idempotent_and_within_half_a_cent(d):
    once = rules.money(d)
    assert rules.money(once) == once
    assert abs(once - d) <= Decimal("0.005")


@pytest.mark.parametrize("value,expected", [(3, 3), ("150.00", Decimal("150.00")), (Decimal("2.5"), Decimal("2.5")),
                                            (" 7 ", Decimal(7))])
def test_to_number_reads_what_python_quickbooks_sends(value, expected):
    assert rules.to_number(value, "UnitPrice") == expected


@pytest.mark.parametrize("value", ["abc", True, {"x": 1}, "NaN"])
def test_to_number_refuses_non_numbers_with_2010(value):
    with pytest.raises(QboFault) as exc:
        rules.to_number(value, "UnitPrice")
    assert code_of(exc) == "2010" and exc.value.element == "UnitPrice"


@pytest.mark.parametrize("amount,text", [(1000, "1,000"), (Decimal("1234.50"), "1,234.5"), (Decimal("99.99"), "99.99")])
def test_supplied_amounts_read_like_qbo_quotes_them(amount, text):
    assert rules.supplied(amount) == text


# -- invoice lines -------------------------------------------------------------------
@pytest.mark.parametrize("amount,qty,price", [
    (150, 3, 50), (Decimal("100.00"), 0, 0), (100, None, None), (100, 0, 50), (100, 2, 0),
    (Decimal("33.33"), 3, Decimal("11.11")), (Decimal("10.00"), Decimal(3), Decimal("3.333")),
])
def test_line_amounts_that_pass(amount, qty, price):
    rules.check_line_amount(amount, qty, price)


def test_a_line_amount_off_by_a_cent_is_6070():
    with pytest.raises(QboFault) as exc:
        rules.check_line_amount(Decimal(1000), 3, 50)
    fault = exc.value
    assert (fault.code, fault.message, fault.element) == ("6070", "Amount calculation incorrect in the request.",
                                                          "Line.Amount")
    assert fault.detail == "Amount is not equal to UnitPrice * Qty. Supplied value:1,000"


def test_invoice_totals_subtract_discounts():
    assert rules.invoice_totals([Decimal(150), Decimal("0.1"), Decimal("0.2")], [Decimal(10)]) == (
        Decimal("150.3"), Decimal("140.3"))


def test_percent_discount_is_of_the_subtotal():
    assert rules.discount_amount({"PercentBased": True, "DiscountPercent": 10}, None, Decimal("155.55")) == \
        Decimal("15.56")
    assert rules.discount_amount({}, Decimal(5), Decimal(100)) == Decimal("5.0")


def test_line_ids_keep_sent_ones_and_number_the_rest():
    assert rules.line_ids([{"Id": "3"}, {}, {"Id": "3"}, {"Id": "x"}, {"Id": 1}]) == ["3", "4", "5", "6", "1"]
    assert rules.line_ids([{}, {}]) == ["1", "2"]


def test_voided_note():
    assert rules.voided_note(None) == "Voided"
    assert rules.voided_note("late fee") == "Voided - late fee"
    assert rules.voided_note("Voided - late fee") == "Voided - late fee"


# -- names ---------------------------------------------------------------------------
def test_names_compare_case_insensitively():
    assert rules.name_key("ACME Ltd") == rules.name_key("acme ltd")
    assert rules.name_key("Straße") == rules.name_key("STRASSE")


@given(st.text())
def test_name_key_is_idempotent(name):
    assert rules.name_key(rules.name_key(name)) == rules.name_key(name)


@pytest.mark.parametrize("bad", ["Acme:East", "Acme\tEast", "Acme\nEast"])
def test_names_refuse_colon_tab_newline_with_6000(bad):
    with pytest.raises(QboFault) as exc:
        rules.check_name(bad, "DisplayName")
    assert code_of(exc) == "6000" and exc.value.element == "DisplayName"


def test_account_names_also_refuse_a_double_quote():
    rules.check_name('The "best" account', "DisplayName")
    with pytest.raises(QboFault):
        rules.check_name('The "best" account', "Name", ':\t\n"')


@given(st.text(min_size=1).filter(lambda s: not s.endswith(rules.DELETED_SUFFIX)))
def test_deleted_suffix_round_trip(name):
    hidden = rules.with_deleted(name)
    assert hidden == name + " (deleted)"
    assert rules.with_deleted(hidden) == hidden
    assert rules.without_deleted(hidden) == name


@pytest.mark.parametrize("was,now,name,out", [
    (True, False, "Acme", "Acme (deleted)"), (False, False, "Acme", "Acme (deleted)"),
    (False, False, "Acme (deleted)", "Acme (deleted)"), (False, True, "Acme (deleted)", "Acme"),
    (True, True, "Acme", "Acme"), (True, True, "Odd (deleted)", "Odd (deleted)"),
])
def test_deactivation_name(was, now, name, out):
    assert rules.deactivation_name(name, was, now) == out


def test_display_name_is_built_from_the_parts_when_absent():
    assert rules.display_name({"DisplayName": "  Acme  "}) == "Acme"
    assert rules.display_name({"Title": "Dr", "GivenName": "Ada", "FamilyName": "Lovelace", "DisplayName": ""}) == \
        "Dr Ada Lovelace"
    assert rules.display_name({"CompanyName": "Only a company"}) is None


def test_fully_qualified_name():
    assert rules.fully_qualified(None, "Acme") == "Acme"
    assert rules.fully_qualified("Acme:Kitchen", "Tiles") == "Acme:Kitchen:Tiles"


# -- input shape ---------------------------------------------------------------------
def test_clean_treats_empty_strings_and_nulls_as_absent_but_keeps_zeros():
    body = {"A": "", "B": None, "C": 0, "D": False, "E": {"name": "", "type": "", "value": "58"},
            "F": {"name": "", "value": ""}, "G": [], "H": [{"x": ""}, {"x": 1}]}
    assert rules.clean(body) == {"C": 0, "D": False, "E": {"value": "58"}, "G": [], "H": [{"x": 1}]}


def test_sparse_merge_keeps_what_was_not_sent_and_full_merge_clears_it():
    old = {"DisplayName": "Acme", "Notes": "n", "Balance": 5}
    writable = {"DisplayName", "Notes", "CompanyName"}
    assert rules.merge(old, {"CompanyName": "Acme Inc"}, writable, sparse=True) == {
        "DisplayName": "Acme", "Notes": "n", "CompanyName": "Acme Inc"}
    assert rules.merge(old, {"DisplayName": "Acme"}, writable, sparse=False) == {"DisplayName": "Acme"}


@pytest.mark.parametrize("value,token", [("3", 3), (3, 3), (" 4 ", 4), ("x", None), (True, None), (None, None)])
def test_sync_token_accepts_strings_and_ints(value, token):
    assert rules.sync_token(value) == token


# -- accounts --------------------------------------------------------------------------
def test_account_classification():
    assert classify("Income", None) == ("Income", "SalesOfProductIncome", "Revenue")
    assert classify(None, "UndepositedFunds") == ("Other Current Asset", "UndepositedFunds", "Asset")
    assert classify("Bank", "SomethingNew") == ("Bank", "SomethingNew", "Asset")
    for code, args in (("2020", (None, None)), ("2010", ("Nope", None)), ("6000", ("Bank", "ServiceFeeIncome"))):
        with pytest.raises(QboFault) as exc:
            classify(*args)
        assert code_of(exc) == code
    assert set(SUB_TYPES.values()) <= set(ACCOUNT_TYPES)


# -- queries onto the indexes ------------------------------------------------------------
def plan(text: str):
    query = parse(text)
    spec = querying.entity_of(query)
    return querying.plan(querying.with_aliases(query, spec), spec)


@pytest.mark.parametrize("text,find,exact", [
    ("SELECT * FROM Customer WHERE DisplayName = 'Acme'", {"key": "acme", "active": True}, True),
    ("SELECT * FROM Customer WHERE Active = false", {"active": False}, True),
    ("SELECT * FROM Customer WHERE Active IN (true, false)", {}, True),
    ("SELECT * FROM Customer WHERE Active IN (false)", {"active": False}, True),
    ("SELECT * FROM Customer WHERE Id IN ('1', '058')", {"ids": ["1", "58"], "active": True}, True),
    ("SELECT * FROM Customer WHERE Id > '5' AND Id <= '10'", {"num_range": (6, 10), "active": True}, True),
    ("SELECT * FROM Customer WHERE GivenName = 'Ada'", {"active": True}, False),
    ("SELECT * FROM Customer WHERE DisplayName LIKE 'Ac%'", {"active": True}, False),
    ("SELECT * FROM Item WHERE Sku = 'AB-1'", {"alt": "ab-1", "active": True}, True),
    ("SELECT * FROM Invoice WHERE CustomerRef = '58'", {"alt": "58"}, True),
    ("SELECT * FROM Invoice WHERE DocNumber IN ('1001', '1002')", {"keys": ["1001", "1002"]}, True),
])
def test_query_hints_become_store_filters(text, find, exact):
    p = plan(text)
    assert (p.find, p.exact) == (find, exact)


def test_a_changed_since_hint_widens_and_is_rechecked():
    p = plan("SELECT * FROM Customer WHERE MetaData.LastUpdatedTime >= '2025-01-01T00:00:00-08:00'")
    assert p.find["changed_since"] == 1735718400.0 and not p.exact


def test_where_aliases_compare_inside_the_object():
    query = querying.with_aliases(parse("select * from customer where PrimaryEmailAddr = 'a@b.c'"),
                                  SPECS_BY_NAME["Customer"])
    assert query.where[0].path == "PrimaryEmailAddr.Address"


# -- every EntitySpec through the same checks -----------------------------------------------
PYQB_CLASSES = {
    "Customer": ("quickbooks.objects.customer", "Customer"),
    "Vendor": ("quickbooks.objects.vendor", "Vendor"),
    "Employee": ("quickbooks.objects.employee", "Employee"),
    "Item": ("quickbooks.objects.item", "Item"),
    "Account": ("quickbooks.objects.account", "Account"),
    "Invoice": ("quickbooks.objects.invoice", "Invoice"),
    "CompanyInfo": ("quickbooks.objects.company_info", "CompanyInfo"),
    "Preferences": ("quickbooks.objects.preferences", "Preferences"),
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_entity_spec_is_consistent(spec):
    assert spec.segment == spec.name.lower()
    assert not spec.writable & spec.read_only, "a field is either writable or read-only"
    assert set(spec.required) <= spec.writable
    assert set(spec.defaults) <= spec.writable | spec.read_only
    assert spec.numbers <= spec.writable
    for field, target in spec.refs.items():
        assert field in spec.writable and target in SPECS_BY_NAME
    for path, ftype in spec.fields.items():
        assert isinstance(ftype, FieldType)
        root = path.split(".")[0]
        assert root in spec.accepted or root == "MetaData", path
    assert set(spec.where_aliases.values()) <= set(spec.fields)
    if spec.key_field:
        assert spec.key_field in spec.fields, "the indexed name must be queryable"
    if spec.unique_among:
        assert spec.name in spec.unique_among and spec.key_field and spec.name_scope
        assert len({SPECS_BY_NAME[e].sequence for e in spec.unique_among}) == 1 or len(spec.unique_among) == 1
    if spec.parent_flag:
        assert spec.parent_flag in spec.writable and spec.refs.get("ParentRef") == spec.name
    if spec.kind is Kind.NAME_LIST:
        assert "Active" in spec.writable and spec.fields.get("Active") is FieldType.BOOL
        assert "delete" not in spec.operations and spec.label_field
    if spec.kind is Kind.TRANSACTION:
        assert spec.sequence == "txn" and "delete" in spec.operations
    if spec.kind is Kind.SINGLETON:
        assert spec.sequence is None and "create" not in spec.operations
    for op in spec.operations - {"read", "query"}:
        assert (spec.name, op) in api.OPERATIONS


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_python_quickbooks_bodies_are_accepted(spec):
    """Every attribute python-quickbooks sends is a known property (no 2010)."""
    module, cls = PYQB_CLASSES[spec.name]
    obj = getattr(__import__(module, fromlist=[cls]), cls)()
    body = json.loads(obj.to_json())
    body.update({"MetaData": {"CreateTime": "x"}, "Id": "7", "SyncToken": 2})
    sent = resource.accept(spec, body)
    assert not set(sent) & (spec.read_only | {"Id", "SyncToken", "MetaData", "sparse", "domain"})


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_an_unknown_property_is_2010(spec):
    with pytest.raises(QboFault) as exc:
        resource.accept(spec, {"Bogus": 1})
    assert code_of(exc) == "2010"
    assert exc.value.detail.startswith('Property Name:Unrecognized field "Bogus"')


@pytest.mark.parametrize("spec", [s for s in SPECS if s.numbers], ids=lambda s: s.name)
def test_numeric_strings_become_decimals(spec):
    field = min(spec.numbers)
    assert resource.accept(spec, {field: "12.50"})[field] == Decimal("12.50")


def test_render_hides_private_keys_and_nulls():
    assert resource.render({"A": 1, "_voided": True, "B": None, "C": {"D": None, "E": [None, 2]}}) == {
        "A": 1, "C": {"E": [2]}}
    assert resource.passes_through('{"A":1}') and not resource.passes_through('{"_x":1}')
    assert not resource.passes_through('{"A":null}')


def test_numbers_sent_for_text_fields_become_text():
    sent = resource.accept(SPECS_BY_NAME["Vendor"], {"DisplayName": 42, "AcctNum": Decimal("7.5"), "Active": "false"})
    assert sent == {"DisplayName": "42", "AcctNum": "7.5", "Active": False}
