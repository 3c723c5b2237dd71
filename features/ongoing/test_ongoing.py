"""The ongoing sync (R12, R13, R14, R18, R19, R20, R22, R22a)."""
from pytest_bdd import scenarios

scenarios("contacts.feature", "standalone_and_skip.feature", "items.feature", "invoices.feature", "no_echo.feature",
          "disconnect.feature", "reauthorize.feature")
