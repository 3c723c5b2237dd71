"""Each kind of mistake in a scenario file names the file, the key path and what is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load, load_named, names

CASES = [
    ("unknown top key", "name: x\npopulaton: {}\n", "populaton", "unknown key"),
    ("unknown nested key", "name: x\npopulation: {contacts: {exactly: 3}}\n", "population.contacts.exactly",
     "unknown key"),
    ("negative count", "name: x\npopulation: {contacts: {exact: -1}}\n", "population.contacts.exact", ">= 0"),
    ("count not a number", "name: x\npopulation: {contacts: {exact: many}}\n", "population.contacts.exact",
     "whole number"),
    ("fraction out of range", "name: x\npopulation: {contacts: {businesses: 2}}\n",
     "population.contacts.businesses", "between 0 and 1"),
    ("bad plan", "name: x\ncanopy: {firm: {plan: gold}}\n", "canopy.firm.plan", "paid, freemium, legacy"),
    ("bad module", "name: x\ncanopy: {firm: {modules: [payroll]}}\n", "canopy.firm.modules[0]", "must be one of"),
    ("unknown permission set", "name: x\ncanopy: {team: [{permission_set: boss}]}\n",
     "canopy.team[0].permission_set", "neither a preset"),
    ("too few seats", "name: x\ncanopy: {firm: {licenses: {time_and_billing: 1}},"
     " team: [{licenses: [time_and_billing]}]}\n", "canopy.firm.licenses", "seats"),
    ("epoch without zone", "name: x\nepoch: '2024-01-01T00:00:00'\n", "epoch", "zone"),
    ("epoch not a date", "name: x\nepoch: yesterday\n", "epoch", "ISO 8601"),
    ("unknown locale", "name: x\nlocale: xx_YY\n", "locale", "Faker locale"),
    ("mapping expected", "name: x\nqbo: [1, 2]\n", "qbo", "must be a mapping"),
    ("bad offset", "name: x\nqbo: {company: {offset: '8'}}\n", "qbo.company.offset", "-08:00"),
    ("invoices without items", "name: x\npopulation: {contacts: {exact: 2}, invoices: {ready: 1}}\n",
     "population.invoices", "matched item"),
    ("not yaml", "name: [x\n", "line", "not valid YAML"),
    ("empty file", "", "<top>", "empty"),
]


@pytest.mark.parametrize("label,text,path,words", CASES, ids=[c[0] for c in CASES])
def test_mistake_is_named(tmp_path: Path, label: str, text: str, path: str, words: str) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load(f)
    msg = str(info.value)
    assert msg.startswith(str(f)), msg
    assert path in msg, msg
    assert words in msg, msg


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_unknown_builtin_lists_the_library() -> None:
    with pytest.raises(ScenarioError, match="built-in: .*default"):
        load_named("no_such_scenario")


def test_library_has_the_promised_scenarios() -> None:
    want = {"default", "gate_no_permission", "gate_freemium", "gate_legacy", "gate_no_license",
            "gate_tn_standalone", "contacts_matching", "contacts_duplicates", "contacts_unmatched",
            "contacts_import_filter", "contacts_over_300", "items_mismatch", "invoices_linked_and_held",
            "large", "huge"}
    assert want <= set(names())
    for name in names():
        assert load_named(name).name == name
