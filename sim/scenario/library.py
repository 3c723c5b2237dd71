"""The built-in scenarios: `scenarios/*.yaml` at the project root, found by name."""
from __future__ import annotations

from pathlib import Path

from .schema import Scenario, ScenarioError, load

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def names(root: Path = ROOT) -> list[str]:
    return sorted(p.stem for p in root.glob("*.yaml"))


def find(name_or_path: str, root: Path = ROOT) -> Path:
    """A built-in name (`default`) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = root / f"{name_or_path}.yaml"
    if not candidate.exists():
        raise ScenarioError(str(candidate), "", f"no scenario {name_or_path!r}; built-in: {', '.join(names(root))}")
    return candidate


def load_named(name_or_path: str) -> Scenario:
    return load(find(name_or_path))
