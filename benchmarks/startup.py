"""How long the fake QBO takes from a cold `python -m sim serve qbo` to its
first answered request (target: under 1 s)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

from results import Figures

TARGET_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure() -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "serve", "qbo", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the server exited before answering")
                time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    runs = sorted(measure() for _ in range(3))
    print(f"fake QBO start to first answer (median of 3): {runs[1]:.3f} s   target < {TARGET_S:.1f} s   "
          f"{'OK' if runs[1] < TARGET_S else 'MISSED'}")
    figures = Figures("startup.py")
    figures.add("fake QBO cold start to first answer (median of 3)", runs[1], "s", f"< {TARGET_S:.0f} s",
                runs[1] < TARGET_S)
    figures.emit()
