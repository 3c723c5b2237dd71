"""Run every benchmark script in this folder, one after another."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
failed = 0
for script in sorted(here.glob("*.py")):
    if script.name == "run_all.py":
        continue
    print(f"== {script.name}", flush=True)
    failed += subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0
sys.exit(1 if failed else 0)
