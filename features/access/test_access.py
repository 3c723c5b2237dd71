"""Access and connection (R1-R4a)."""
from pytest_bdd import scenarios

scenarios("who_may_connect.feature", "sign_in_and_agreement.feature")
