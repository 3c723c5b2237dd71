"""The R21 steps (features/steps/faults.py), loaded for this directory.

`features/conftest.py` loads the other domains' steps as plugins; these are imported here so
that file need not change (adding "features.steps.faults" to its `pytest_plugins` works too).
"""
from features.steps.faults import *
