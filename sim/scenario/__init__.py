"""Scenarios: reproducible Faker worlds that seed both fakes and carry their own ground truth.

`load_named(name)` -> `Scenario` (schema.py) -> `build_world(sc, seed, scale)`
-> `World` with records and `truth` (generate.py, truth.py) ->
`seed_world(world, qbo_url, canopy_url)` over the fakes' admin APIs (seed.py).
"""
from .generate import World, build_world
from .library import find, load_named, names
from .schema import Scenario, ScenarioError, load, parse

__all__ = ["Scenario", "ScenarioError", "World", "build_world", "find", "load", "load_named", "names", "parse"]
