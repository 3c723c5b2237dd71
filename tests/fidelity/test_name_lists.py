"""Every name-list entity (Customer, Vendor, Employee, Item, Account) through the same checks."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from quickbooks.exceptions import (ObjectNotFoundException, QuickbooksException, ValidationException)

from .entities import RECIPES, Recipe

pytestmark = pytest.mark.parametrize("recipe", list(RECIPES.values()), ids=list(RECIPES))

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


def create(recipe: Recipe, qb, stem: str, **fields):
    obj = recipe.build(qb, stem)
    for k, v in fields.items():
        setattr(obj, k, v)
    return obj.save(qb=qb)


def test_create_returns_the_stored_record(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    assert re.fullmatch(r"[0-9]+", made.Id) and int(made.Id) > 0
    assert made.SyncToken == "0"
    assert getattr(made, recipe.name_field) == uniq
    assert made.Active is True
    assert made.domain == "QBO"
    assert made.sparse is False
    meta = made.MetaData if isinstance(made.MetaData, dict) else made.MetaData.__dict__
    assert ISO.match(meta["CreateTime"]) and ISO.match(meta["LastUpdatedTime"])
    assert meta["CreateTime"] == meta["LastUpdatedTime"]


def test_get_reads_back_what_was_created(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq, **{recipe.text_field: "first text"})
    got = recipe.cls.get(made.Id, qb=qb)
    assert got.Id == made.Id
    assert got.SyncToken == made.SyncToken
    assert getattr(got, recipe.name_field) == uniq
    assert getattr(got, recipe.text_field) == "first text"
    assert got.to_dict().keys() >= {"Id", "SyncToken", "MetaData"}


def test_get_unknown_id_is_object_not_found_610(recipe: Recipe, qb):
    with pytest.raises(ObjectNotFoundException) as exc:
        recipe.cls.get("987654321", qb=qb)
    assert exc.value.error_code == 610
    assert exc.value.message == "Object Not Found"


def test_full_update_echoing_everything_read_is_accepted(recipe: Recipe, qb, uniq):
    """python-quickbooks re-sends MetaData, FullyQualifiedName, Balance and "" strings on a full update."""
    made = create(recipe, qb, uniq)
    got = recipe.cls.get(made.Id, qb=qb)
    saved = got.save(qb=qb)
    assert saved.Id == made.Id
    assert saved.SyncToken == "1"
    assert getattr(saved, recipe.name_field) == uniq


def test_full_update_changes_a_field_and_bumps_sync_token(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    got = recipe.cls.get(made.Id, qb=qb)
    setattr(got, recipe.text_field, "changed")
    saved = got.save(qb=qb)
    assert saved.SyncToken == "1"
    assert getattr(saved, recipe.text_field) == "changed"
    assert getattr(recipe.cls.get(made.Id, qb=qb), recipe.text_field) == "changed"
    before = datetime.fromisoformat(made.MetaData["CreateTime"])
    after = datetime.fromisoformat(saved.MetaData["LastUpdatedTime"])
    assert after >= before
    assert saved.MetaData["CreateTime"] == made.MetaData["CreateTime"]


def test_full_update_clears_an_omitted_writable_field(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq, **{recipe.text_field: "to be cleared"})
    got = recipe.cls.get(made.Id, qb=qb)
    setattr(got, recipe.text_field, None)  # python-quickbooks leaves None out of the body
    saved = got.save(qb=qb)
    assert getattr(saved, recipe.text_field, None) in (None, "")
    again = recipe.cls.get(made.Id, qb=qb)
    assert getattr(again, recipe.text_field, None) in (None, "")
    assert getattr(again, recipe.name_field) == uniq


def test_sparse_update_changes_only_the_fields_sent(recipe: Recipe, qb, uniq):
    """A fresh object sends "" for every unset string: a sparse update must read them as absent."""
    made = create(recipe, qb, uniq, **{recipe.text_field: "kept?"})
    patch = recipe.cls()
    patch.Id = made.Id
    patch.SyncToken = made.SyncToken
    patch.sparse = True
    setattr(patch, recipe.text_field, "sparse value")
    if recipe.entity == "Item":
        patch.IncomeAccountRef = None
    saved = patch.save(qb=qb)
    assert saved.SyncToken == "1"
    assert getattr(saved, recipe.text_field) == "sparse value"
    assert getattr(saved, recipe.name_field) == uniq
    got = recipe.cls.get(made.Id, qb=qb)
    assert getattr(got, recipe.name_field) == uniq
    assert getattr(got, recipe.text_field) == "sparse value"


def test_stale_sync_token_is_5010(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    first = recipe.cls.get(made.Id, qb=qb)
    stale = recipe.cls.get(made.Id, qb=qb)
    setattr(first, recipe.text_field, "winner")
    first.save(qb=qb)
    setattr(stale, recipe.text_field, "loser")
    with pytest.raises(QuickbooksException) as exc:
        stale.save(qb=qb)
    assert type(exc.value) is QuickbooksException  # 5010 is outside every range python-quickbooks maps
    assert exc.value.error_code == 5010
    assert exc.value.message == "Stale Object Error"
    assert getattr(recipe.cls.get(made.Id, qb=qb), recipe.text_field) == "winner"


def test_sync_token_sent_as_int_is_accepted(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    got = recipe.cls.get(made.Id, qb=qb)
    got.SyncToken = int(got.SyncToken)
    setattr(got, recipe.text_field, "int token")
    assert got.save(qb=qb).SyncToken == "1"


def test_deactivate_hides_it_from_default_queries(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    got = recipe.cls.get(made.Id, qb=qb)
    got.Active = False
    saved = got.save(qb=qb)
    assert saved.Active is False
    assert saved.SyncToken == "1"
    active_ids = {o.Id for o in recipe.cls.all(qb=qb)}
    assert made.Id not in active_ids
    assert made.Id not in {o.Id for o in recipe.cls.where(f"Id = '{made.Id}'", qb=qb)}
    inactive = recipe.cls.filter(Active=False, qb=qb)
    assert made.Id in {o.Id for o in inactive}
    both = recipe.cls.where(f"Active IN (true, false) AND Id = '{made.Id}'", qb=qb)
    assert [o.Id for o in both] == [made.Id]
    assert recipe.cls.get(made.Id, qb=qb).Active is False  # a read still finds it


def test_reactivate(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    got = recipe.cls.get(made.Id, qb=qb)
    got.Active = False
    off = got.save(qb=qb)
    off.Active = True
    on = off.save(qb=qb)
    assert on.Active is True
    assert on.SyncToken == "2"
    assert made.Id in {o.Id for o in recipe.cls.all(qb=qb)}


def test_duplicate_name_is_6240(recipe: Recipe, qb, uniq):
    create(recipe, qb, uniq)
    with pytest.raises(QuickbooksException) as exc:
        create(recipe, qb, uniq)
    assert type(exc.value) is QuickbooksException
    assert exc.value.error_code == 6240
    assert "Duplicate Name Exists Error" in exc.value.message


def test_name_with_colon_is_refused(recipe: Recipe, qb, uniq):
    with pytest.raises(QuickbooksException) as exc:
        create(recipe, qb, uniq + ":child")
    assert exc.value.error_code not in (0, 10000)
    assert not recipe.cls.where(f"{recipe.name_field} LIKE '{uniq}%'", qb=qb)


def test_unknown_property_is_validation_2010(recipe: Recipe, qb, uniq, recorder):
    obj = recipe.build(qb, uniq)
    obj.NotAQboField = "x"
    with recorder.off_spec_requests(), pytest.raises(ValidationException) as exc:
        obj.save(qb=qb)
    assert exc.value.error_code == 2010
    assert "NotAQboField" in exc.value.detail


def test_request_id_makes_create_idempotent(recipe: Recipe, qb, uniq):
    first = recipe.build(qb, uniq).save(qb=qb, request_id=uniq + "-create")
    second = recipe.build(qb, uniq).save(qb=qb, request_id=uniq + "-create")
    assert second.Id == first.Id
    assert second.SyncToken == first.SyncToken
    assert len(recipe.cls.where(f"{recipe.name_field} = '{uniq}'", qb=qb)) == 1


def test_request_id_replays_the_first_answer_even_for_another_body(recipe: Recipe, qb, uniq):
    first = recipe.build(qb, uniq).save(qb=qb, request_id=uniq + "-x")
    other = recipe.build(qb, uniq + " other").save(qb=qb, request_id=uniq + "-x")
    assert other.Id == first.Id
    assert getattr(other, recipe.name_field) == uniq
    assert not recipe.cls.where(f"{recipe.name_field} = '{uniq} other'", qb=qb)


def test_request_id_makes_update_idempotent(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    got = recipe.cls.get(made.Id, qb=qb)
    setattr(got, recipe.text_field, "once")
    one = got.save(qb=qb, request_id=uniq + "-upd")
    two = got.save(qb=qb, request_id=uniq + "-upd")  # a retry of the same request: not stale, not re-run
    assert one.SyncToken == two.SyncToken == "1"
    assert recipe.cls.get(made.Id, qb=qb).SyncToken == "1"


def test_different_request_ids_create_twice(recipe: Recipe, qb, uniq):
    a = recipe.build(qb, uniq + " a").save(qb=qb, request_id=uniq + "-a")
    b = recipe.build(qb, uniq + " b").save(qb=qb, request_id=uniq + "-b")
    assert a.Id != b.Id


def test_all_lists_it_and_count_counts_it(recipe: Recipe, qb, uniq):
    made = [create(recipe, qb, f"{uniq} {n}") for n in range(3)]
    listed = recipe.cls.where(f"{recipe.name_field} LIKE '{uniq}%'", qb=qb)
    assert {o.Id for o in listed} == {m.Id for m in made}
    assert recipe.cls.count(f"{recipe.name_field} LIKE '{uniq}%'", qb=qb) == 3
    assert {m.Id for m in made} <= {o.Id for o in recipe.cls.all(max_results=1000, qb=qb)}


def test_filter_by_name(recipe: Recipe, qb, uniq):
    made = create(recipe, qb, uniq)
    create(recipe, qb, uniq + " other")
    found = recipe.cls.filter(qb=qb, **{recipe.name_field: uniq})
    assert [o.Id for o in found] == [made.Id]


def test_choose_by_ids(recipe: Recipe, qb, uniq):
    a = create(recipe, qb, uniq + " a")
    create(recipe, qb, uniq + " b")
    c = create(recipe, qb, uniq + " c")
    chosen = recipe.cls.choose([a.Id, c.Id], qb=qb)
    assert sorted(o.Id for o in chosen) == sorted([a.Id, c.Id])


def test_delete_is_unsupported_for_name_lists(recipe: Recipe, qb, uniq, recorder):
    """Name-list records are deactivated, never deleted (python-quickbooks has no delete() for them)."""
    import json
    from quickbooks.exceptions import UnsupportedException
    made = create(recipe, qb, uniq)
    with recorder.off_spec_requests(), pytest.raises(UnsupportedException) as exc:
        qb.delete_object(recipe.entity, json.dumps({"Id": made.Id, "SyncToken": made.SyncToken}))
    assert exc.value.error_code == 500
    assert recipe.cls.get(made.Id, qb=qb).Active is True


def test_request_id_longer_than_50_is_refused(recipe: Recipe, qb, uniq):
    with pytest.raises(QuickbooksException) as exc:
        recipe.build(qb, uniq).save(qb=qb, request_id="r" * 51)
    assert exc.value.error_code not in (0, 10000)
    assert not recipe.cls.where(f"{recipe.name_field} = '{uniq}'", qb=qb)
