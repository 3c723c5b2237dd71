"""R21: converging under faults (the matrix) -- see features/harness/faults.py."""
from pytest_bdd import scenarios

scenarios("converges_under_faults.feature")
