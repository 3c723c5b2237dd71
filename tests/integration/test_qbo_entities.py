"""The fake QBO's entities over real HTTP: CRUD, QBO's errors, idempotency, queries.

Plain `requests` against a server started by the shared fixtures; each test
gets its own company (and so shares no state with any other).
"""
from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.conftest import QboTenant
from tests.integration.test_admin import token_for

DUPLICATE_PEOPLE = ("The name supplied already exists. : Another customer, vendor or employee is already using "
                    "this name. Please use a different name.")
INACTIVE = ("Object Not Found : Something you're trying to use has been made inactive. Check the fields with "
            "accounts, customers, items, vendors or employees.")
PYQB_CUSTOMER_NOISE = {"SyncToken": 0, "sparse": False, "domain": "QBO", "Title": "", "GivenName": "",
                       "MiddleName": "", "FamilyName": "", "Suffix": "", "FullyQualifiedName": "", "CompanyName": "",
                       "PrintOnCheckName": "", "Notes": "", "Active": True, "IsProject": False, "Job": False,
                       "BillWithParent": False, "Taxable": True, "Balance": 0, "BalanceWithJobs": 0,
                       "PreferredDeliveryMethod": "", "ResaleNum": "", "Level": 0, "OpenBalanceDate": "",
                       "PrimaryTaxIdentifier": ""}


class Api:
    """One company's accounting API, as a client sees it."""

    def __init__(self, t: QboTenant, token: str) -> None:
        self.t = t
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def url(self, path: str) -> str:
        return f"{self.t.api_v3}/company/{self.t.realm_id}/{path}"

    def send(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
             content_type: str = "application/json", **params: Any) -> requests.Response:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        params.setdefault("minorversion", "75")
        return self.http.request(method, self.url(path), data=data, params=params,
                                 headers={"Content-Type": content_type}, timeout=30)

    def post(self, entity: str, body: Any, expect: int = 200, **params: Any) -> dict[str, Any]:
        resp = self.send("POST", entity.lower(), body, **params)
        assert resp.status_code == expect, resp.text
        return resp.json()

    def create(self, entity: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        return self.post(entity, body, **params)[entity]

    def read(self, entity: str, id_: str, expect: int = 200) -> dict[str, Any]:
        resp = self.send("GET", f"{entity.lower()}/{id_}")
        assert resp.status_code == expect, resp.text
        return resp.json()

    def query(self, text: str, expect: int = 200) -> dict[str, Any]:
        resp = self.send("GET", "query", query=text)
        assert resp.status_code == expect, resp.text
        return resp.json()

    def fault(self, resp_json: dict[str, Any]) -> dict[str, str]:
        assert resp_json["Fault"]["type"] == "ValidationFault"
        (error,) = resp_json["Fault"]["Error"]
        return error


def unthrottled(t: QboTenant) -> QboTenant:
    """These tests send bursts far above QBO's 10 requests a second: lift the
    fake's throttle for the company (where the fake has one)."""
    t.admin.call("POST", "/limits", json={"tenant": t.realm_id, "enabled": False})
    return t


@pytest.fixture
def qbo(qbo_tenant: QboTenant) -> Api:
    return Api(unthrottled(qbo_tenant), token_for(qbo_tenant))


def income(qbo: Api) -> dict[str, str]:
    """The default chart's "Services" income account, as a ref."""
    rows = qbo.query("select * from Account where Name = 'Services'")["QueryResponse"]["Account"]
    return {"value": rows[0]["Id"]}


def service(qbo: Api, name: str = "Consulting", **extra: Any) -> dict[str, Any]:
    return qbo.create("Item", {"Name": name, "Type": "Service", "IncomeAccountRef": income(qbo), **extra})


def sale(item_id: str, amount: Any, qty: Any = None, price: Any = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item_id, "name": "", "type": ""}}
    if qty is not None:
        detail["Qty"] = qty
    if price is not None:
        detail["UnitPrice"] = price
    return {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def freeze(t: QboTenant, at: str) -> None:
    t.admin.post("/clock", {"tenant": t.realm_id, "freeze": True, "set": at}, expect=200)


# -- name lists: create, read, update, sparse update, deactivate -------------------------------
NAME_LISTS = [
    ("Customer", "DisplayName", {"DisplayName": "Acme Ltd"}, {"CompanyName": "Acme Holdings"}),
    ("Vendor", "DisplayName", {"DisplayName": "Paper Co"}, {"AcctNum": "77-1"}),
    ("Employee", "DisplayName", {"GivenName": "Ada", "FamilyName": "Lovelace"}, {"EmployeeNumber": "E-1"}),
    ("Item", "Name", {"Name": "Hours", "Type": "NonInventory"}, {"Description": "Billable hours"}),
    ("Account", "Name", {"Name": "Consulting Income", "AccountType": "Income"}, {"Description": "Fees"}),
]


@pytest.mark.parametrize("entity,name_field,body,change", NAME_LISTS, ids=[n[0] for n in NAME_LISTS])
def test_name_list_lifecycle(qbo: Api, qbo_tenant: QboTenant, entity: str, name_field: str,
                             body: dict[str, Any], change: dict[str, Any]) -> None:
    freeze(qbo_tenant, "2025-03-04T18:11:12Z")
    if entity == "Item":
        body = {**body, "IncomeAccountRef": income(qbo)}
    made = qbo.create(entity, body)
    assert made["Id"].isdigit() and made["SyncToken"] == "0" and made["Active"] is True
    assert made["MetaData"] == {"CreateTime": "2025-03-04T10:11:12-08:00",
                                "LastUpdatedTime": "2025-03-04T10:11:12-08:00"}
    assert made["domain"] == "QBO" and made["sparse"] is False
    read = qbo.read(entity, made["Id"])
    assert read[entity] == made and read["time"].startswith("2025-03-04T10:11:12.") and read["time"].endswith("-08:00")

    freeze(qbo_tenant, "2025-03-05T18:00:00Z")
    full = {**made, **change}  # a full update sends back everything read, read-only fields included
    updated = qbo.create(entity, full)
    assert updated["SyncToken"] == "1" and all(updated[k] == v for k, v in change.items())
    assert updated["MetaData"] == {"CreateTime": "2025-03-04T10:11:12-08:00",
                                   "LastUpdatedTime": "2025-03-05T10:00:00-08:00"}

    sparse = qbo.create(entity, {"Id": made["Id"], "SyncToken": "1", "sparse": True, name_field: "Renamed"})
    assert sparse["SyncToken"] == "2" and sparse[name_field] == "Renamed"
    assert all(sparse[k] == v for k, v in change.items()), "a sparse update keeps what it did not send"

    gone = qbo.create(entity, {"Id": made["Id"], "SyncToken": "2", "sparse": True, "Active": False})
    assert gone["Active"] is False and gone[name_field] == "Renamed (deleted)" and gone["SyncToken"] == "3"
    assert qbo.read(entity, made["Id"])[entity]["Active"] is False, "inactive records stay readable"

    refused = qbo.post(entity, {"Id": made["Id"], "SyncToken": "3"}, expect=400, operation="delete")
    assert qbo.fault(refused) == {"Message": "Unsupported Operation", "Detail": "Operation Delete is not supported.",
                                  "code": "500", "element": ""}


def test_full_update_clears_omitted_fields(qbo: Api) -> None:
    made = qbo.create("Customer", {"DisplayName": "Clear Me", "Notes": "keep?", "CompanyName": "C"})
    full = qbo.create("Customer", {"Id": made["Id"], "SyncToken": "0", "DisplayName": "Clear Me"})
    assert "Notes" not in full and "CompanyName" not in full and full["Active"] is True


def test_python_quickbooks_bodies_and_refs(qbo: Api) -> None:
    parent = qbo.create("Customer", {**PYQB_CUSTOMER_NOISE, "DisplayName": "Parent"})
    assert parent["Balance"] == 0 and parent["PrintOnCheckName"] == "Parent" and "OpenBalanceDate" not in parent
    child = qbo.create("Customer", {**PYQB_CUSTOMER_NOISE, "DisplayName": "Kitchen", "Job": True,
                                    "ParentRef": {"name": "", "type": "", "value": parent["Id"]}})
    assert child["FullyQualifiedName"] == "Parent:Kitchen" and child["Level"] == 1 and child["Job"] is True
    assert child["ParentRef"] == {"value": parent["Id"], "name": "Parent"}
    qbo.create("Customer", {"Id": parent["Id"], "SyncToken": 0, "sparse": True, "DisplayName": "Parent Co"})
    assert qbo.read("Customer", child["Id"])["Customer"]["FullyQualifiedName"] == "Parent Co:Kitchen"


def test_ids_come_from_per_company_sequences(qbo: Api) -> None:
    ids = [qbo.create("Customer", {"DisplayName": "C1"})["Id"], qbo.create("Vendor", {"DisplayName": "V1"})["Id"],
           qbo.create("Employee", {"DisplayName": "E1"})["Id"], qbo.create("Customer", {"DisplayName": "C2"})["Id"]]
    assert ids == ["1", "2", "3", "4"], "customers, vendors and employees share one sequence"
    assert service(qbo)["Id"] == "1", "items have their own"
    assert qbo.create("Account", {"Name": "Extra", "AccountType": "Expense"})["Id"] == "11", "after the default chart"


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("first,second", [("Customer", "Vendor"), ("Vendor", "Employee"), ("Employee", "Customer"),
                                          ("Customer", "Customer")])
def test_display_names_are_unique_across_people_ignoring_case(qbo: Api, first: str, second: str) -> None:
    qbo.create(first, {"DisplayName": "Shared Name"})
    resp = qbo.post(second, {"DisplayName": "SHARED name"}, expect=400)
    assert qbo.fault(resp) == {"Message": "Duplicate Name Exists Error", "Detail": DUPLICATE_PEOPLE,
                               "code": "6240", "element": ""}


def test_deactivation_frees_the_name_and_reactivation_needs_it_back(qbo: Api) -> None:
    old = qbo.create("Customer", {"DisplayName": "Reused"})
    qbo.create("Customer", {"Id": old["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    new = qbo.create("Vendor", {"DisplayName": "Reused"})
    assert new["DisplayName"] == "Reused"
    resp = qbo.post("Customer", {"Id": old["Id"], "SyncToken": "1", "sparse": True, "Active": True}, expect=400)
    assert qbo.fault(resp)["code"] == "6240"
    qbo.create("Vendor", {"Id": new["Id"], "SyncToken": "0", "sparse": True, "DisplayName": "Elsewhere"})
    back = qbo.create("Customer", {"Id": old["Id"], "SyncToken": "1", "sparse": True, "Active": True})
    assert back["DisplayName"] == "Reused" and back["Active"] is True


def test_item_and_account_names_have_their_own_spaces(qbo: Api) -> None:
    qbo.create("Customer", {"DisplayName": "Design"})
    service(qbo, "Design")
    resp = qbo.post("Item", {"Name": "design", "Type": "Service", "IncomeAccountRef": income(qbo)}, expect=400)
    assert qbo.fault(resp)["Detail"] == ("The name supplied already exists. : Another product or service is "
                                         "already using this name. Please use a different name.")
    resp = qbo.post("Account", {"Name": "services", "AccountType": "Income"}, expect=400)
    assert qbo.fault(resp)["code"] == "6240" and "Another account" in qbo.fault(resp)["Detail"]


@pytest.mark.parametrize("entity,body,detail", [
    ("Customer", {"DisplayName": "Acme: East"}, "DisplayName can't contain a colon (:)."),
    ("Vendor", {"DisplayName": "Tab\there"}, "DisplayName can't contain a tab."),
    ("Account", {"Name": 'Say "hi"', "AccountType": "Expense"}, 'Name can\'t contain a double quote (").'),
])
def test_names_with_forbidden_characters_are_6000(qbo: Api, entity: str, body: dict[str, Any], detail: str) -> None:
    error = qbo.fault(qbo.post(entity, body, expect=400))
    assert error == {"Message": "A business validation error has occurred while processing your request",
                     "Detail": f"Business Validation Error: {detail}", "code": "6000",
                     "element": "Name" if entity == "Account" else "DisplayName"}


def test_sub_items_and_sub_accounts_get_qualified_names(qbo: Api) -> None:
    parent = service(qbo, "Design")
    child = service(qbo, "Logos", SubItem=True, ParentRef={"value": parent["Id"]})
    assert (child["FullyQualifiedName"], child["Level"], child["SubItem"]) == ("Design:Logos", 1, True)
    top = qbo.create("Account", {"Name": "Travel", "AccountType": "Expense"})
    sub = qbo.create("Account", {"Name": "Flights", "AccountType": "Expense", "SubAccount": True,
                                 "ParentRef": {"value": top["Id"]}})
    assert sub["FullyQualifiedName"] == "Travel:Flights" and sub["Classification"] == "Expense"


def test_service_items_need_an_income_account(qbo: Api) -> None:
    error = qbo.fault(qbo.post("Item", {"Name": "No account", "Type": "Service"}, expect=400))
    assert error == {"Message": "Required param missing, need to supply the required value for the API",
                     "Detail": "Required parameter IncomeAccountRef is missing in the request",
                     "code": "2020", "element": "IncomeAccountRef"}


# -- invoices ---------------------------------------------------------------------------------
def test_invoice_totals_numbering_defaults_and_balance(qbo: Api, qbo_tenant: QboTenant) -> None:
    freeze(qbo_tenant, "2025-03-05T06:00:00Z")  # still the 4th in the company's -08:00
    customer = qbo.create("Customer", {"DisplayName": "Buyer"})
    item = service(qbo)
    inv = qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "TxnDate": "", "DueDate": "", "TotalAmt": "",
                                 "Balance": 0, "SyncToken": 0, "sparse": False, "domain": "QBO",
                                 "Line": [sale(item["Id"], "150.00", 3, 50), sale(item["Id"], 100, 0, 0),
                                          sale(item["Id"], "0.10")]})
    assert inv["TotalAmt"] == 250.1 and inv["Balance"] == 250.1
    assert (inv["TxnDate"], inv["DueDate"], inv["DocNumber"]) == ("2025-03-04", "2025-03-04", "1001")
    assert (inv["EmailStatus"], inv["PrintStatus"]) == ("NotSet", "NotSet")
    assert inv["CustomerRef"] == {"value": customer["Id"], "name": "Buyer"}
    lines, subtotal = inv["Line"][:-1], inv["Line"][-1]
    assert [(ln["Id"], ln["LineNum"]) for ln in lines] == [("1", 1), ("2", 2), ("3", 3)]
    assert subtotal == {"Amount": 250.1, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    detail = lines[0]["SalesItemLineDetail"]
    assert detail["ItemRef"] == {"value": item["Id"], "name": "Consulting"}
    assert detail["ItemAccountRef"]["name"] == "Services"
    assert qbo.read("Customer", customer["Id"])["Customer"]["Balance"] == 250.1
    second = qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sale(item["Id"], 10)]})
    assert second["DocNumber"] == "1002"
    assert qbo.read("Customer", customer["Id"])["Customer"]["Balance"] == 260.1

    resent = qbo.create("Invoice", {**inv, "Line": [sale(item["Id"], 40, 2, 20)]})  # full update, lines replaced
    assert resent["TotalAmt"] == 40.0 and resent["SyncToken"] == "1" and resent["DocNumber"] == "1001"
    assert qbo.read("Customer", customer["Id"])["Customer"]["Balance"] == 50.0


def test_invoice_void_and_delete(qbo: Api) -> None:
    customer = qbo.create("Customer", {"DisplayName": "Buyer"})
    item = service(qbo)
    inv = qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "PrivateNote": "rush",
                                 "Line": [sale(item["Id"], 75)]})
    voided = qbo.post("Invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="void")["Invoice"]
    assert (voided["TotalAmt"], voided["Balance"], voided["SyncToken"]) == (0, 0, "1")
    assert voided["PrivateNote"] == "Voided - rush"
    assert qbo.read("Customer", customer["Id"])["Customer"]["Balance"] == 0
    assert qbo.read("Invoice", inv["Id"])["Invoice"]["TotalAmt"] == 0, "a voided invoice stays visible"

    other = qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sale(item["Id"], 30)]})
    stale = qbo.post("Invoice", {"Id": other["Id"], "SyncToken": "5"}, expect=400, operation="delete")
    assert qbo.fault(stale)["code"] == "5010"
    deleted = qbo.post("Invoice", {"Id": other["Id"], "SyncToken": "0"}, operation="delete")
    assert deleted["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": other["Id"]} and "time" in deleted
    assert qbo.fault(qbo.read("Invoice", other["Id"], expect=400)) == {
        "Message": "Object Not Found", "Detail": INACTIVE, "code": "610", "element": ""}
    assert qbo.read("Customer", customer["Id"])["Customer"]["Balance"] == 0


def test_an_invoice_with_one_bad_line_changes_nothing(qbo: Api) -> None:
    customer = qbo.create("Customer", {"DisplayName": "Buyer"})
    item = service(qbo)
    qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sale(item["Id"], 10)]})
    resp = qbo.post("Invoice", {"CustomerRef": {"value": customer["Id"]},
                                "Line": [sale(item["Id"], 20), sale("999", 5)]}, expect=400)
    assert qbo.fault(resp) == {"Message": "Invalid Reference Id",
                               "Detail": "Invalid Reference Id : Line.SalesItemLineDetail.ItemRef",
                               "code": "2500", "element": "Line.SalesItemLineDetail.ItemRef"}
    assert qbo.query("select count(*) from Invoice")["QueryResponse"] == {"totalCount": 1}
    assert qbo.read("Customer", customer["Id"])["Customer"]["Balance"] == 10.0
    nxt = qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sale(item["Id"], 1)]})
    assert nxt["DocNumber"] == "1002", "the failed create used no number"


def test_invoice_errors(qbo: Api) -> None:
    customer = qbo.create("Customer", {"DisplayName": "Buyer"})
    item = service(qbo)
    ref = {"value": customer["Id"]}
    assert qbo.fault(qbo.post("Invoice", {"CustomerRef": ref}, expect=400)) == {
        "Message": "Required param missing, need to supply the required value for the API",
        "Detail": "Required parameter Line is missing in the request", "code": "2020", "element": "Line"}
    assert qbo.fault(qbo.post("Invoice", {"CustomerRef": ref, "Line": [sale(item["Id"], 1000, 3, 50)]},
                              expect=400)) == {
        "Message": "Amount calculation incorrect in the request.",
        "Detail": "Amount is not equal to UnitPrice * Qty. Supplied value:1,000", "code": "6070",
        "element": "Line.Amount"}
    assert qbo.fault(qbo.post("Invoice", {"CustomerRef": {"value": "999"}, "Line": [sale(item["Id"], 1)]},
                              expect=400))["code"] == "2500"
    qbo.create("Item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert qbo.fault(qbo.post("Invoice", {"CustomerRef": ref, "Line": [sale(item["Id"], 1)]}, expect=400)) == {
        "Message": "Object Not Found", "Detail": INACTIVE, "code": "610",
        "element": "Line.SalesItemLineDetail.ItemRef"}
    category = qbo.create("Item", {"Name": "Group of things", "Type": "Category"})
    assert "Categories cannot be used" in qbo.fault(qbo.post(
        "Invoice", {"CustomerRef": ref, "Line": [sale(category["Id"], 1)]}, expect=400))["Detail"]


def test_customer_with_open_balance_cannot_be_made_inactive(qbo: Api) -> None:
    customer = qbo.create("Customer", {"DisplayName": "Owes"})
    qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sale(service(qbo)["Id"], 5)]})
    resp = qbo.post("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}, expect=400)
    assert qbo.fault(resp)["Message"] == "Delete List Has Balance Error"


# -- generic errors -----------------------------------------------------------------------------
def test_stale_sync_token_is_5010_and_changes_nothing(qbo: Api) -> None:
    made = qbo.create("Customer", {"DisplayName": "Racer"})
    qbo.create("Customer", {"Id": made["Id"], "SyncToken": 0, "sparse": True, "Notes": "first"})
    resp = qbo.post("Customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Notes": "second"}, expect=400)
    assert qbo.fault(resp) == {
        "Message": "Stale Object Error", "code": "5010", "element": "",
        "Detail": "Stale Object Error : You and another user were working on this at the same time. "
                  "The other user finished before you did, so your work was not saved."}
    assert qbo.read("Customer", made["Id"])["Customer"]["Notes"] == "first"


def test_reading_a_missing_id_is_610(qbo: Api) -> None:
    assert qbo.fault(qbo.read("Customer", "424242", expect=400))["code"] == "610"


UNREADABLE = {"Message": "Request has invalid or unsupported property", "code": "2010", "element": "",
              "Detail": "Property Name:failed to parse json object; a property specified is unsupported or invalid"}


@pytest.mark.parametrize("raw,error", [
    (b'{"DisplayName": ', UNREADABLE),
    (b'["a list"]', UNREADABLE),
    (b'{"DisplayName": "Caf\xe9"}', {"Message": "Unsupported Operation", "code": "500", "element": "",
                                      "Detail": "Unsupported Operation : the request body is not valid UTF-8"}),
])
def test_bodies_qbo_cannot_read(qbo: Api, raw: bytes, error: dict[str, str]) -> None:
    resp = qbo.send("POST", "customer", raw=raw)
    assert resp.status_code == 400 and qbo.fault(resp.json()) == error


def test_unknown_property_and_operation(qbo: Api) -> None:
    error = qbo.fault(qbo.post("Customer", {"DisplayName": "X", "Nickname": "x"}, expect=400))
    assert error == {"Message": "Request has invalid or unsupported property", "code": "2010", "element": "",
                     "Detail": 'Property Name:Unrecognized field "Nickname" (class com.intuit.schema.finance.v3.'
                               'Customer), not marked as ignorable specified is unsupported or invalid'}
    error = qbo.fault(qbo.post("Customer", {"DisplayName": "X"}, expect=400, operation="frobnicate"))
    assert (error["code"], error["Message"]) == ("500", "Unsupported Operation")
    resp = qbo.send("POST", "widget", {"Name": "x"})
    assert resp.status_code == 400 and qbo.fault(resp.json())["code"] == "500"


def test_responses_are_json_with_qbo_content_type_and_any_minor_version(qbo: Api) -> None:
    for minor in ("3", "75", "999", "abc"):
        resp = qbo.send("POST", "customer", {"DisplayName": f"Minor {minor}"}, minorversion=minor)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/json;charset=UTF-8" and resp.headers["intuit_tid"]


# -- requestid ------------------------------------------------------------------------------------
def test_requestid_replays_the_first_answer(qbo: Api, qbo_tenant: QboTenant) -> None:
    first = qbo.post("Customer", {"DisplayName": "Once"}, requestid="req-1")
    again = qbo.post("Customer", {"DisplayName": "Once"}, requestid="req-1")
    assert again == first
    other = qbo.post("Customer", {"DisplayName": "Something else"}, requestid="req-1")
    assert other == first, "the first answer, whatever the body"
    assert qbo.query("select count(*) from Customer")["QueryResponse"]["totalCount"] == 1

    failed = qbo.post("Customer", {"DisplayName": "Once"}, expect=400, requestid="req-2")
    assert qbo.post("Customer", {"DisplayName": "Fresh"}, expect=400, requestid="req-2") == failed

    resp = qbo.send("POST", "customer", {"DisplayName": "Long"}, requestid="x" * 51)
    assert resp.status_code == 400 and qbo.fault(resp.json())["code"] == "2010"


def test_requestid_is_per_company(qbo_tenant: QboTenant) -> None:
    a = Api(unthrottled(qbo_tenant), token_for(qbo_tenant))
    second = second_company(qbo_tenant)
    b = Api(second, token_for(second))
    made_a = a.post("Customer", {"DisplayName": "Twin"}, requestid="same")["Customer"]
    made_b = b.post("Customer", {"DisplayName": "Twin"}, requestid="same")["Customer"]
    assert made_a["Id"] == made_b["Id"] == "1" and made_a["DisplayName"] == made_b["DisplayName"]
    assert b.query("select count(*) from Customer")["QueryResponse"]["totalCount"] == 1


# -- tenant isolation --------------------------------------------------------------------------------
def second_company(t: QboTenant) -> QboTenant:
    company = t.admin.post("/companies", {"name": "Second", "user": {"email": t.user_email}}, expect=201)
    return unthrottled(QboTenant(t.base, company["realm_id"], t.client_id, t.client_secret, t.redirect_uri,
                                 t.user_email, t.user_password, t.admin))


def test_companies_do_not_see_each_other(qbo: Api, qbo_tenant: QboTenant) -> None:
    made = qbo.create("Customer", {"DisplayName": "Private"})
    other_t = second_company(qbo_tenant)
    other = Api(other_t, token_for(other_t))
    assert other.fault(other.read("Customer", made["Id"], expect=400))["code"] == "610"
    assert other.query("select * from Customer")["QueryResponse"] == {}
    other.create("Customer", {"DisplayName": "Private"})  # the name is free there
    wrong = requests.get(other.url(f"customer/{made['Id']}"), headers=dict(qbo.http.headers), timeout=30)
    assert wrong.status_code == 403


# -- queries -------------------------------------------------------------------------------------------
def test_query_paging_count_order_and_active_default(qbo: Api) -> None:
    ids = [qbo.create("Customer", {"DisplayName": f"Q{n:02d}"})["Id"] for n in range(12)]
    qbo.create("Customer", {"Id": ids[0], "SyncToken": "0", "sparse": True, "Active": False})
    page = qbo.query("SELECT * FROM Customer STARTPOSITION 3 MAXRESULTS 4")["QueryResponse"]
    assert [c["Id"] for c in page["Customer"]] == ids[3:7]
    assert (page["startPosition"], page["maxResults"]) == (3, 4)
    assert qbo.query("select count(*) from Customer")["QueryResponse"] == {"totalCount": 11}
    assert qbo.query("select count(*) from Customer where Active = false")["QueryResponse"] == {"totalCount": 1}
    both = qbo.query("select * from Customer where Active in (true, false) maxresults 100")["QueryResponse"]
    assert len(both["Customer"]) == 12
    desc = qbo.query("select Id, DisplayName from Customer orderby DisplayName desc maxresults 2")["QueryResponse"]
    assert desc["Customer"] == [{"Id": ids[11], "DisplayName": "Q11"}, {"Id": ids[10], "DisplayName": "Q10"}]
    hit = qbo.query("select * from customer where displayname = 'q05'")["QueryResponse"]["Customer"]
    assert [c["Id"] for c in hit] == [ids[5]]
    assert qbo.query("select * from Customer where DisplayName = 'Q00'")["QueryResponse"] == {}
    like = qbo.query("select * from Customer where DisplayName like 'Q1%'")["QueryResponse"]["Customer"]
    assert [c["DisplayName"] for c in like] == ["Q10", "Q11"]
    chosen = qbo.query(f"select * from Customer where Id in ('{ids[2]}', '{ids[4]}')")["QueryResponse"]["Customer"]
    assert [c["Id"] for c in chosen] == [ids[2], ids[4]]


def test_query_by_post_and_items_with_sku(qbo: Api) -> None:
    service(qbo, "Widget", Sku="WG-1")
    resp = qbo.send("POST", "query", raw=b"SELECT *, Sku FROM Item WHERE Sku = 'wg-1'", content_type="application/text")
    rows = resp.json()["QueryResponse"]["Item"]
    assert [r["Sku"] for r in rows] == ["WG-1"]


@pytest.mark.parametrize("text,code", [
    ("SELECT * FROM Customer WHERE", "4000"), ("", "4000"),
    ("SELECT * FROM Customer WHERE Nickname = 'x'", "4001"), ("SELECT * FROM Widget", "4001"),
    ("SELECT * FROM Customer WHERE Balance = 'lots'", "4002"),
])
def test_query_errors(qbo: Api, text: str, code: str) -> None:
    body = qbo.query(text, expect=400)
    assert qbo.fault(body)["code"] == code


# -- singletons ---------------------------------------------------------------------------------------------
def test_company_info_and_preferences_update(qbo: Api, qbo_tenant: QboTenant) -> None:
    info = qbo.read("CompanyInfo", qbo_tenant.realm_id)["CompanyInfo"]
    changed = qbo.create("CompanyInfo", {"Id": "1", "SyncToken": info["SyncToken"], "sparse": True,
                                         "LegalName": "Renamed LLC"})
    assert changed["LegalName"] == "Renamed LLC" and changed["CompanyName"] == info["CompanyName"]
    assert changed["SyncToken"] == "1"
    assert qbo.fault(qbo.read("CompanyInfo", "123", expect=400))["code"] == "610"

    prefs = qbo.send("GET", "preferences").json()["Preferences"]
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    updated = qbo.create("Preferences", {**prefs, "SalesFormsPrefs": {"CustomTxnNumbers": True}})
    assert updated["SalesFormsPrefs"]["CustomTxnNumbers"] is True and updated["SyncToken"] == "1"
    assert updated["SalesFormsPrefs"]["AllowDiscount"] is True, "groups merge: other preferences stay"
    customer = qbo.create("Customer", {"DisplayName": "Buyer"})
    inv = qbo.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sale(service(qbo)["Id"], 5)]})
    assert "DocNumber" not in inv, "custom numbers on: no number unless one is sent"


# -- webhooks ---------------------------------------------------------------------------------------
def test_writes_are_announced_to_webhook_listeners(qbo: Api, qbo_tenant: QboTenant) -> None:
    import threading
    import time

    from aiohttp import web

    from sim.core.server import ServerThread

    seen: list[dict[str, Any]] = []
    arrived = threading.Event()

    def receiver() -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            body = json.loads(await request.read())
            seen.extend(body["eventNotifications"][0]["dataChangeEvent"]["entities"])
            arrived.set()
            return web.Response()
        app = web.Application()
        app.router.add_post("/hook", hook)
        return app

    with ServerThread(receiver) as hooks:
        qbo_tenant.admin.call("PATCH", f"/apps/{qbo_tenant.client_id}", expect=200,
                              json={"webhook_url": hooks.url + "/hook", "verifier_token": "v"})
        customer = qbo.create("Customer", {"DisplayName": "Heard"})
        qbo.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            arrived.wait(0.1)
    assert [(e["name"], e["id"], e["operation"]) for e in seen] == [
        ("Customer", customer["Id"], "Create"), ("Customer", customer["Id"], "Delete")]


def test_a_job_invoice_counts_in_the_parent_balance_with_jobs(qbo: Api) -> None:
    parent = qbo.create("Customer", {"DisplayName": "Holding"})
    job = qbo.create("Customer", {"DisplayName": "Holding job", "Job": True, "ParentRef": {"value": parent["Id"]}})
    qbo.create("Invoice", {"CustomerRef": {"value": job["Id"]}, "Line": [sale(service(qbo)["Id"], "12.34")]})
    job_now, parent_now = (qbo.read("Customer", c["Id"])["Customer"] for c in (job, parent))
    assert (job_now["Balance"], job_now["BalanceWithJobs"]) == (12.34, 12.34)
    assert (parent_now["Balance"], parent_now["BalanceWithJobs"]) == (0, 12.34)
    assert parent_now["SyncToken"] == "0", "balances are derived: no SyncToken change"
