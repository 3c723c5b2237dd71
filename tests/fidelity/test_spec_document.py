"""The OpenAPI document itself, and the validator the suite leans on."""
from __future__ import annotations

import copy
import json

import pytest
import yaml
from openapi_spec_validator import validate

from .conftest import SPEC_FILE
from .spec import SpecValidator, SpecViolation

ENTITIES = ["customer", "vendor", "employee", "item", "account", "invoice"]


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text())


def test_the_yaml_is_a_valid_openapi_3_1_document(document):
    validate(document)
    assert document["openapi"].startswith("3.1")


@pytest.mark.fake_only
def test_the_fake_serves_the_same_document(qbo_server, document):
    import requests
    served = requests.get(qbo_server.url + "/openapi.json", timeout=30).json()
    validate(served)
    assert {k: v for k, v in served.items() if k != "servers"} == document
    assert served["servers"] == [{"url": qbo_server.url}]


def test_it_describes_the_real_api_and_not_the_admin_routes(document):
    paths = set(document["paths"])
    assert not any(p.startswith("/_sim") for p in paths)
    for entity in ENTITIES:
        assert f"/v3/company/{{realmId}}/{entity}" in paths
        assert f"/v3/company/{{realmId}}/{entity}/{{id}}" in paths
    assert {"/v3/company/{realmId}/query", "/v3/company/{realmId}/companyinfo/{companyId}",
            "/v3/company/{realmId}/preferences", "/.well-known/openid-configuration", "/oauth2/v1/tokens/bearer",
            "/v2/oauth2/tokens/revoke", "/v1/openid_connect/userinfo", "/op/v1/jwks"} <= paths


def test_operation_ids_are_unique_and_links_resolve(document):
    ops = {op["operationId"]: op for item in document["paths"].values() for m, op in item.items()
           if m in ("get", "post")}
    count = sum(1 for item in document["paths"].values() for m in item if m in ("get", "post"))
    assert len(ops) == count
    links = [(name, link) for op in ops.values() for resp in op["responses"].values()
             for name, link in resp.get("links", {}).items()]
    assert len(links) >= 3 * len(ENTITIES)
    for name, link in links:
        assert link["operationId"] in ops, name


def test_security(document):
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["components"]["securitySchemes"]["basicAuth"]["scheme"] == "basic"
    paths = document["paths"]
    assert paths["/oauth2/v1/tokens/bearer"]["post"]["security"] == [{"basicAuth": []}]
    assert paths["/v2/oauth2/tokens/revoke"]["post"]["security"] == [{"basicAuth": []}]
    assert paths["/.well-known/openid-configuration"]["get"]["security"] == []
    assert document["security"] == [{"bearerAuth": []}]
    form = paths["/oauth2/v1/tokens/bearer"]["post"]["requestBody"]["content"]
    assert list(form) == ["application/x-www-form-urlencoded"]
    assert list(paths["/v3/company/{realmId}/query"]["post"]["requestBody"]["content"]) == ["application/text"]


# -- the validator catches what it should ----------------------------------------------------
GOOD_CUSTOMER = {"Customer": {"Id": "58", "SyncToken": "0", "DisplayName": "Acme", "Active": True, "Balance": 0,
                              "MetaData": {"CreateTime": "2025-03-04T10:11:12-08:00",
                                           "LastUpdatedTime": "2025-03-04T10:11:12-08:00"},
                              "domain": "QBO", "sparse": False, "CurrencyRef": {"value": "USD", "name": "US Dollar"}},
                 "time": "2025-03-04T10:11:12.345-08:00"}
URL = "http://127.0.0.1:1/v3/company/123/customer"
JSON = {"Content-Type": "application/json;charset=UTF-8", "intuit_tid": "1-abc"}


@pytest.fixture(scope="module")
def checker(document) -> SpecValidator:
    return SpecValidator(document)


def check(checker, body, status=200, headers=JSON, url=URL, method="POST"):
    return checker.check_response(method, url, status, headers, json.dumps(body).encode())


def test_a_good_answer_passes(checker):
    assert check(checker, GOOD_CUSTOMER).definition["operationId"] == "createOrUpdateCustomer"
    assert check(checker, GOOD_CUSTOMER, url=URL + "/58", method="GET").definition["operationId"] == "readCustomer"


@pytest.mark.parametrize("breakage", [
    lambda b: b["Customer"].pop("SyncToken"),
    lambda b: b["Customer"].update(SyncToken=0),
    lambda b: b["Customer"].update(Id="abc"),
    lambda b: b["Customer"].update(Balance="0.00"),
    lambda b: b["Customer"].update(Active="true"),
    lambda b: b["Customer"]["MetaData"].update(CreateTime="yesterday"),
    lambda b: b["Customer"].update(CurrencyRef={"value": 1}),
    lambda b: b["Customer"].update(CurrencyRef={"value": "USD", "extra": 1}),
    lambda b: b["Customer"].update(OpenBalanceDate="2025-13-01"),
    lambda b: b["Customer"].update(BillAddr={"Line1": None}),
    lambda b: b.pop("time"),
    lambda b: b.update(customer=b.pop("Customer")),
    lambda b: b.update(warnings=None),
])
def test_a_broken_answer_fails(checker, breakage):
    body = copy.deepcopy(GOOD_CUSTOMER)
    breakage(body)
    with pytest.raises(SpecViolation):
        check(checker, body)


def test_undocumented_status_media_type_and_missing_header_fail(checker):
    with pytest.raises(SpecViolation, match="not documented"):
        check(checker, GOOD_CUSTOMER, status=404)
    with pytest.raises(SpecViolation, match="Content-Type"):
        check(checker, GOOD_CUSTOMER, headers={"Content-Type": "text/html", "intuit_tid": "x"})
    with pytest.raises(SpecViolation, match="intuit_tid"):
        check(checker, GOOD_CUSTOMER, headers={"Content-Type": "application/json"})
    with pytest.raises(SpecViolation, match="no operation"):
        check(checker, GOOD_CUSTOMER, url="http://127.0.0.1:1/v3/company/123/bill")


def test_fault_shapes(checker):
    fault = {"Fault": {"Error": [{"Message": "Stale Object Error", "Detail": "d", "code": "5010", "element": ""}],
                       "type": "ValidationFault"}, "time": "2025-03-04T10:11:12.345-08:00"}
    check(checker, fault, status=400)
    bad = copy.deepcopy(fault)
    bad["Fault"]["Error"][0]["code"] = 5010
    with pytest.raises(SpecViolation):
        check(checker, bad, status=400)
    gateway = {"warnings": None, "intuitObject": None, "time": 1633520295688,
               "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                    "detail": "Token expired", "code": "3200", "element": None}],
                         "type": "AUTHENTICATION"}}
    check(checker, gateway, status=401)
    check(checker, gateway, status=403)
    with pytest.raises(SpecViolation):
        check(checker, gateway, status=400)  # 400s are always the documented Fault


def test_delete_stub_and_query_shapes(checker):
    stub = {"Invoice": {"status": "Deleted", "domain": "QBO", "Id": "146"}, "time": "2025-03-04T10:11:12.345-08:00"}
    check(checker, stub, url="http://h/v3/company/1/invoice?operation=delete")
    with pytest.raises(SpecViolation):
        check(checker, {"Invoice": {"status": "deleted", "Id": "146"}, "time": stub["time"]},
              url="http://h/v3/company/1/invoice")
    qurl = "http://h/v3/company/1/query"
    check(checker, {"QueryResponse": {}, "time": stub["time"]}, url=qurl)
    check(checker, {"QueryResponse": {"totalCount": 3}, "time": stub["time"]}, url=qurl)
    check(checker, {"QueryResponse": {"Customer": [{"Id": "1", "DisplayName": "x"}], "startPosition": 1,
                                      "maxResults": 1}, "time": stub["time"]}, url=qurl)
    with pytest.raises(SpecViolation):
        check(checker, {"QueryResponse": {"Customer": [{"Id": 1}]}, "time": stub["time"]}, url=qurl)
    with pytest.raises(SpecViolation):
        check(checker, {"QueryResponse": {"totalCount": "3"}, "time": stub["time"]}, url=qurl)


def test_requests_python_quickbooks_sends_are_allowed(checker):
    """A create exactly as python-quickbooks 0.9.12 serialises a fresh Customer."""
    from quickbooks.objects.customer import Customer
    c = Customer()
    c.DisplayName = "Acme"
    checker.check_request("POST", URL, {"Content-Type": "application/json"}, c.to_json())
    with pytest.raises(SpecViolation):
        checker.check_request("POST", URL, {"Content-Type": "application/json"}, json.dumps({"Bogus": 1}))
    checker.check_request("POST", "http://h/v3/company/1/query", {"Content-Type": "application/text"},
                          "SELECT * FROM Customer")
