"""The query language through python-quickbooks: all, filter, where, choose, count, query."""
from __future__ import annotations

from decimal import Decimal

import pytest
from quickbooks.exceptions import ValidationException
from quickbooks.objects.account import Account
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

from .entities import customer, invoice, money, sales_line, service_item


@pytest.fixture
def people(qb, uniq):
    """Five customers, with names that sort differently from their Ids."""
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    return {n: customer(f"{uniq} {n}", CompanyName=f"{n} corp").save(qb=qb) for n in names}


@pytest.fixture
def billed(qb, uniq):
    """Three customers with invoices of 50, 100 and 150."""
    item = service_item(qb, uniq + " svc", price=50).save(qb=qb)
    out = {}
    for n, qty in (("one", 1), ("two", 2), ("three", 3)):
        c = customer(f"{uniq} {n}").save(qb=qb)
        inv = invoice(c, sales_line(item, 50 * qty, qty=qty, price=50),
                      TxnDate=f"2025-0{qty}-15").save(qb=qb)
        out[n] = (c, inv)
    return out


def mine(uniq: str) -> str:
    return f"DisplayName LIKE '{uniq}%'"


def test_where_equals(qb, people, uniq):
    found = Customer.where(f"DisplayName = '{uniq} alpha'", qb=qb)
    assert [c.Id for c in found] == [people["alpha"].Id]


def test_where_string_comparisons(qb, people, uniq):
    def names(op: str) -> list[str]:
        rows = Customer.where(f"{mine(uniq)} AND DisplayName {op} '{uniq} charlie'", order_by="DisplayName", qb=qb)
        return [c.DisplayName.rsplit(" ", 1)[1] for c in rows]
    assert names("<") == ["alpha", "bravo"]
    assert names("<=") == ["alpha", "bravo", "charlie"]
    assert names(">") == ["delta", "echo"]
    assert names(">=") == ["charlie", "delta", "echo"]


def test_where_id_comparisons_are_numeric(qb, people, uniq):
    ids = sorted(int(c.Id) for c in people.values())
    pivot = ids[2]
    below = Customer.where(f"{mine(uniq)} AND Id < '{pivot}'", qb=qb)
    above = Customer.where(f"{mine(uniq)} AND Id >= '{pivot}'", qb=qb)
    assert sorted(int(c.Id) for c in below) == ids[:2]
    assert sorted(int(c.Id) for c in above) == ids[2:]


def test_where_number_comparisons(qb, billed):
    ids = {n: inv.Id for n, (_, inv) in billed.items()}
    clause = f"Id IN ('{ids['one']}', '{ids['two']}', '{ids['three']}')"

    def pick(cond: str) -> set[str]:
        return {i.Id for i in Invoice.where(f"{clause} AND {cond}", qb=qb)}
    assert pick("TotalAmt > '50'") == {ids["two"], ids["three"]}
    assert pick("TotalAmt >= '100'") == {ids["two"], ids["three"]}
    assert pick("TotalAmt < '100'") == {ids["one"]}
    assert pick("TotalAmt <= '100'") == {ids["one"], ids["two"]}
    assert pick("TotalAmt = '150'") == {ids["three"]}
    assert pick("Balance > '120.5'") == {ids["three"]}


def test_where_dates(qb, billed):
    ids = {n: inv.Id for n, (_, inv) in billed.items()}
    clause = f"Id IN ('{ids['one']}', '{ids['two']}', '{ids['three']}')"
    found = Invoice.where(f"{clause} AND TxnDate >= '2025-02-15'", qb=qb)
    assert {i.Id for i in found} == {ids["two"], ids["three"]}
    found = Invoice.where(f"{clause} AND TxnDate < '2025-02-15'", qb=qb)
    assert {i.Id for i in found} == {ids["one"]}


def test_where_ref_value(qb, billed):
    c, inv = billed["two"]
    assert [i.Id for i in Invoice.where(f"CustomerRef = '{c.Id}'", qb=qb)] == [inv.Id]
    assert [i.Id for i in Invoice.filter(CustomerRef=c.Id, qb=qb)] == [inv.Id]


def test_where_metadata_dotted_path(qb, people, uniq):
    created = people["alpha"].MetaData["CreateTime"]
    found = Customer.where(f"{mine(uniq)} AND MetaData.CreateTime >= '{created}'", qb=qb)
    assert people["alpha"].Id in {c.Id for c in found}
    none = Customer.where(f"{mine(uniq)} AND MetaData.LastUpdatedTime < '2001-01-01T00:00:00-08:00'", qb=qb)
    assert none == []


def test_where_in_and_choose(qb, people):
    chosen = Customer.choose([people["alpha"].Id, people["echo"].Id], qb=qb)
    assert {c.Id for c in chosen} == {people["alpha"].Id, people["echo"].Id}
    by_name = Customer.choose([people["bravo"].DisplayName, people["delta"].DisplayName], field="DisplayName", qb=qb)
    assert {c.Id for c in by_name} == {people["bravo"].Id, people["delta"].Id}


@pytest.mark.parametrize("pattern,expected", [("%a", {"alpha", "delta"}), ("%ha%", {"alpha", "charlie"}),
                                              ("%ar%", {"charlie"}), ("%", {"alpha", "bravo", "charlie", "delta", "echo"})])
def test_where_like(qb, people, uniq, pattern, expected):
    found = Customer.where(f"{mine(uniq)} AND DisplayName LIKE '{pattern}'", qb=qb)
    assert {c.DisplayName.rsplit(" ", 1)[1] for c in found} == expected


def test_like_prefix(qb, people, uniq):
    found = Customer.where(f"DisplayName LIKE '{uniq} ch%'", qb=qb)
    assert [c.Id for c in found] == [people["charlie"].Id]


def test_keywords_and_booleans_are_case_insensitive(qb, people, uniq):
    """Real traffic uses `and`, `in`, `True` (python-quickbooks' filter writes Python's str(True))."""
    found = Customer.filter(Active=True, DisplayName=f"{uniq} bravo", qb=qb)
    assert [c.Id for c in found] == [people["bravo"].Id]
    rows = Customer.query(f"select * from Customer where DisplayName like '{uniq}%' and Active = TRUE "
                          f"orderby DisplayName desc maxresults 2", qb=qb)
    assert [c.DisplayName for c in rows] == [f"{uniq} echo", f"{uniq} delta"]


def test_string_comparisons_ignore_case(qb, people, uniq):
    """D-33 (QBO unverified)."""
    found = Customer.where(f"DisplayName = '{uniq.upper()} ALPHA'", qb=qb)
    assert [c.Id for c in found] == [people["alpha"].Id]


def test_order_by_asc_and_desc(qb, people, uniq):
    asc = Customer.where(mine(uniq), order_by="DisplayName", qb=qb)
    assert [c.DisplayName.rsplit(" ", 1)[1] for c in asc] == ["alpha", "bravo", "charlie", "delta", "echo"]
    desc = Customer.where(mine(uniq), order_by="DisplayName DESC", qb=qb)
    assert [c.Id for c in desc] == [c.Id for c in reversed(asc)]
    by_id = Customer.all(order_by="Id DESC", max_results=1000, qb=qb)
    assert [int(c.Id) for c in by_id] == sorted((int(c.Id) for c in by_id), reverse=True)


def test_order_by_several_fields(qb, uniq):
    for n, company in (("a", "z"), ("b", "y"), ("c", "y")):
        customer(f"{uniq} {n}", CompanyName=f"{uniq} {company}").save(qb=qb)
    rows = Customer.where(mine(uniq), order_by="CompanyName, DisplayName DESC", qb=qb)
    assert [c.DisplayName[-1] for c in rows] == ["c", "b", "a"]


def test_paging_with_start_position_and_max_results(qb, people, uniq):
    ordered = [c.Id for c in Customer.where(mine(uniq), order_by="DisplayName", qb=qb)]
    page1 = Customer.where(mine(uniq), order_by="DisplayName", start_position=1, max_results=2, qb=qb)
    page2 = Customer.where(mine(uniq), order_by="DisplayName", start_position=3, max_results=2, qb=qb)
    page3 = Customer.where(mine(uniq), order_by="DisplayName", start_position=5, max_results=2, qb=qb)
    beyond = Customer.where(mine(uniq), order_by="DisplayName", start_position=6, max_results=2, qb=qb)
    assert [c.Id for c in page1 + page2 + page3] == ordered
    assert len(page3) == 1 and beyond == []


def test_all_with_paging(qb, people, uniq):
    everything = Customer.all(order_by="Id", max_results=1000, qb=qb)
    first_two = Customer.all(order_by="Id", start_position=1, max_results=2, qb=qb)
    next_two = Customer.all(order_by="Id", start_position=3, max_results=2, qb=qb)
    assert [c.Id for c in first_two + next_two] == [c.Id for c in everything[:4]]


def test_raw_query_response_paging_fields(qb, people, uniq):
    answer = qb.query(f"SELECT * FROM Customer WHERE {mine(uniq)} ORDERBY DisplayName STARTPOSITION 2 MAXRESULTS 3")
    qr = answer["QueryResponse"]
    assert len(qr["Customer"]) == 3
    assert qr["startPosition"] == 2
    assert qr["maxResults"] == 3  # rows returned
    short = qb.query(f"SELECT * FROM Customer WHERE {mine(uniq)} STARTPOSITION 4 MAXRESULTS 10")["QueryResponse"]
    assert short["maxResults"] == len(short["Customer"]) == 2


def test_empty_result_is_an_empty_query_response(qb, uniq):
    answer = qb.query(f"SELECT * FROM Customer WHERE DisplayName = '{uniq} nobody'")
    assert answer["QueryResponse"] == {}
    assert Customer.where(f"DisplayName = '{uniq} nobody'", qb=qb) == []


def test_count(qb, people, uniq):
    assert Customer.count(mine(uniq), qb=qb) == 5
    assert Customer.count(f"{mine(uniq)} AND DisplayName > '{uniq} c'", qb=qb) == 3
    raw = qb.query(f"SELECT COUNT(*) FROM Customer WHERE {mine(uniq)}")["QueryResponse"]
    assert raw == {"totalCount": 5}
    total = Customer.count(qb=qb)
    assert total is not None and total >= 5


def test_count_ignores_max_results(qb, people, uniq):
    raw = qb.query(f"SELECT COUNT(*) FROM Customer WHERE {mine(uniq)} MAXRESULTS 2")["QueryResponse"]
    assert raw["totalCount"] == 5


def test_count_of_nothing_is_zero(qb, uniq):
    assert Customer.count(f"DisplayName = '{uniq} nobody'", qb=qb) == 0


@pytest.mark.fake_only  # 101 creates: too slow and too messy for a shared sandbox company
def test_default_max_results_is_100(qb, uniq):
    """D-20: without MAXRESULTS a query returns at most 100 rows."""
    for n in range(101):
        customer(f"{uniq} {n:03d}").save(qb=qb)
    rows = Customer.query(f"SELECT * FROM Customer WHERE {mine(uniq)}", qb=qb)
    assert len(rows) == 100
    assert Customer.count(mine(uniq), qb=qb) == 101
    assert len(Customer.where(mine(uniq), max_results=1000, qb=qb)) == 101


def test_projection_returns_only_the_fields_asked_for(qb, people, uniq):
    rows = qb.query(f"SELECT Id, DisplayName FROM Customer WHERE DisplayName = '{uniq} alpha'")["QueryResponse"]
    row = rows["Customer"][0]
    assert row["Id"] == people["alpha"].Id and row["DisplayName"] == f"{uniq} alpha"
    assert "CompanyName" not in row and "Balance" not in row


def test_item_all_selects_sku(qb, uniq, recorder):
    item = service_item(qb, uniq + " sku", Sku="SKU-" + uniq).save(qb=qb)
    everything = Item.all(max_results=1000, qb=qb)
    sent = recorder.last("queryPost").request_body
    assert (sent.decode() if isinstance(sent, bytes) else sent).startswith("SELECT *, Sku FROM Item")
    assert {i.Id: i.Sku for i in everything}[item.Id] == "SKU-" + uniq
    by_sku = Item.where(f"Sku = 'SKU-{uniq}'", qb=qb)
    assert [i.Id for i in by_sku] == [item.Id]


def test_query_by_get_with_the_statement_in_the_url(qb, conn, people, uniq):
    url = f"{qb.api_url}/company/{conn.realm}/query"
    answer = qb.get(url, params={"query": f"SELECT * FROM Customer WHERE DisplayName = '{uniq} echo'"})
    assert [c["Id"] for c in answer["QueryResponse"]["Customer"]] == [people["echo"].Id]


def test_accounts_query_by_type_and_classification(qb):
    income = Account.where("AccountType = 'Income'", qb=qb)
    assert income and all(a.AccountType == "Income" and a.Classification == "Revenue" for a in income)
    assets = Account.where("Classification = 'Asset'", qb=qb)
    assert assets and all(a.Classification == "Asset" for a in assets)


def test_invoice_queries_by_doc_number_and_balance(qb, billed):
    _, inv = billed["one"]
    found = Invoice.where(f"DocNumber = '{inv.DocNumber}'", qb=qb)
    assert [i.Id for i in found] == [inv.Id]
    rows = Invoice.where(f"Id IN ('{inv.Id}', '{billed['three'][1].Id}')", order_by="TotalAmt DESC", qb=qb)
    assert [money(i.TotalAmt) for i in rows] == [Decimal("150.00"), Decimal("50.00")]


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "SELECT * FROM Customer WHERE DisplayName = 'unterminated",
    "SELECT * FRM Customer",
    "SELECT * FROM Customer WHERE DisplayName = 'x' OR DisplayName = 'y'",
    "SELEKT * FROM Customer",
    "SELECT * FROM Customer MAXRESULTS many",
])
def test_parse_errors_are_4000(qb, statement):
    with pytest.raises(ValidationException) as exc:
        Customer.query(statement, qb=qb)
    assert exc.value.error_code == 4000
    assert exc.value.message == "Error parsing query"
    assert exc.value.detail.startswith("QueryParserError")


def test_empty_query_is_4000(qb, recorder):
    with recorder.off_spec_requests(), pytest.raises(ValidationException) as exc:
        qb.query("")
    assert exc.value.error_code == 4000


@pytest.mark.parametrize("where", ["NoSuchField = 'x'", "Balance LIKE '%1'", "Active > true"])
def test_invalid_property_or_operator_is_4001(qb, where):
    with pytest.raises(ValidationException) as exc:
        Customer.where(where, qb=qb)
    assert exc.value.error_code == 4001
    assert exc.value.message == "Invalid query"


def test_value_of_the_wrong_type_is_refused(qb):
    with pytest.raises(ValidationException) as exc:
        Invoice.where("TxnDate > 'not a date'", qb=qb)
    assert exc.value.error_code in (4000, 4001, 4002)


def test_start_position_zero_means_one(qb, people, uniq):
    """D-33 (0 has been seen accepted at QBO)."""
    zero = qb.query(f"SELECT * FROM Customer WHERE {mine(uniq)} ORDERBY DisplayName STARTPOSITION 0 MAXRESULTS 2")
    one = qb.query(f"SELECT * FROM Customer WHERE {mine(uniq)} ORDERBY DisplayName STARTPOSITION 1 MAXRESULTS 2")
    assert [c["Id"] for c in zero["QueryResponse"]["Customer"]] == [c["Id"] for c in one["QueryResponse"]["Customer"]]


def test_max_results_below_one_is_4000(qb):
    """D-33."""
    with pytest.raises(ValidationException) as exc:
        qb.query("SELECT * FROM Customer MAXRESULTS 0")
    assert exc.value.error_code == 4000


def test_filter_items_by_type_and_customers_by_email(qb, uniq):
    from quickbooks.objects.base import EmailAddress
    service = service_item(qb, uniq + " svc").save(qb=qb)
    category = Item()
    category.Name, category.Type = uniq + " cat", "Category"
    category = category.save(qb=qb)
    services = {i.Id for i in Item.filter(Type="Service", qb=qb)}
    assert service.Id in services and category.Id not in services
    c = customer(uniq)
    c.PrimaryEmailAddr = EmailAddress()
    c.PrimaryEmailAddr.Address = f"{uniq.lower()}@example.com"
    made = c.save(qb=qb)
    found = Customer.where(f"PrimaryEmailAddr = '{uniq.lower()}@example.com'", qb=qb)
    assert [x.Id for x in found] == [made.Id]
