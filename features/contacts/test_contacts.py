"""Contacts setup (R5-R11)."""
from pytest_bdd import scenarios

scenarios("import_filter.feature", "matching.feature", "duplicates.feature", "new_and_unmatched.feature",
          "review.feature", "sync_contacts.feature")
