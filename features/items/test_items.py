"""Service items and invoices setup (R13-R17)."""
from pytest_bdd import scenarios

scenarios("standalone_module.feature", "skip.feature", "item_matching.feature", "repeat_after_fixing.feature",
          "sync_and_finish.feature")
