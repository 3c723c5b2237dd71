"""The README cannot drift: every code block it marks runnable is run, in order, as written.

A fenced block's info string says what it is (GitHub shows only the first word, the language):

    ```sh runnable                      run with bash (set -euo pipefail); must exit 0
    ```python runnable                  run with the virtualenv's python; must exit 0
    ```sh runnable server wait=8001     a server: started in the background, ready once each
                                        port in `wait` accepts connections, stopped when a later
                                        server needs one of its ports, or at the end
    ```sh runnable needs=postgresql     only when a PostgreSQL server answers (else skipped, said)
    ```sh norun                         shown, not run (`make demo`, `make test`, the full benchmarks)

plus `timeout=S` (default 120 s). Every `sh`/`bash`/`python` block must say `runnable` or
`norun`. Blocks run one after another, as a reader goes down the page, in a sandbox: a temporary
folder with copies of `features/` and `scenarios/` (a block may add files there) and links to
the rest of the project, with the virtualenv first on PATH. The README's ports 8001 (fake QBO),
8002 (fake Canopy) and 8003 (the engine) become three free consecutive ports, so runs never
collide with servers already up. Nothing needs the network; `make test` itself is never run.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_PORTS = (8001, 8002, 8003)
CODE_LANGS = {"sh", "bash", "shell", "console", "python", "py"}
COPIED = ("features", "scenarios")
LINKED = ("sim", "engine", "tests", "benchmarks", "docs", "pyproject.toml", "Makefile", "README.md")
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Block:
    line: int
    lang: str
    words: set[str]
    opts: dict[str, str]
    text: str

    @property
    def runnable(self) -> bool:
        return "runnable" in self.words

    def where(self) -> str:
        return f"README.md line {self.line} (```{self.lang} {' '.join(sorted(self.words))})"


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of the README, with its info string taken apart."""
    out: list[Block] = []
    lines = (text if text is not None else README.read_text()).splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(`{3,})(.*)$", lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).split()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            body.append(lines[j])
            j += 1
        lang = info[0] if info else ""
        words = {w for w in info[1:] if "=" not in w}
        opts = dict(w.split("=", 1) for w in info[1:] if "=" in w)
        out.append(Block(i + 1, lang, words, opts, "\n".join(body) + "\n"))
        i = j + 1
    return out


# -- the sandbox and its servers ------------------------------------------------------------------

def free_run(n: int) -> int:
    """A port p with p .. p+n-1 all free (sim serve all takes --port and --port+1)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            held = []
            for port in range(base, base + n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
        return base
    raise RuntimeError("no run of free ports")


@dataclass
class Sandbox:
    root: Path
    ports: dict[int, int]
    env: dict[str, str]
    servers: list[tuple[Block, subprocess.Popen[bytes], set[int], Path]] = field(default_factory=list)

    def rewrite(self, text: str) -> str:
        return re.sub(r"\b(" + "|".join(map(str, self.ports)) + r")\b", lambda m: str(self.ports[int(m.group(1))]),
                      text)

    def command(self, block: Block) -> list[str]:
        text = self.rewrite(block.text)
        if block.lang in ("python", "py"):
            return [sys.executable, "-c", text]
        return ["bash", "-c", "set -euo pipefail\n" + text]

    def run(self, block: Block) -> None:
        timeout = float(block.opts.get("timeout", 120))
        try:
            done = subprocess.run(self.command(block), cwd=self.root, env=self.env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{block.where()} did not end within {timeout:.0f} s:\n{block.text}\n"
                        f"stdout:\n{_tail(exc.stdout)}\nstderr:\n{_tail(exc.stderr)}", pytrace=False)
        if done.returncode != 0:
            pytest.fail(f"{block.where()} exited with {done.returncode}:\n{block.text}\n"
                        f"stdout:\n{_tail(done.stdout)}\nstderr:\n{_tail(done.stderr)}", pytrace=False)

    def start(self, block: Block) -> None:
        wait = {int(p) for p in block.opts.get("wait", "").split(",") if p}
        assert wait, f"{block.where()}: a server block says which README ports to wait for (wait=8001,...)"
        for running in [s for s in self.servers if s[2] & wait]:
            self.stop(running)
        log = self.root / f"server-{block.line}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(self.command(block), cwd=self.root, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.servers.append((block, proc, wait, log))
        deadline = time.monotonic() + float(block.opts.get("timeout", 60))
        for port in sorted(self.ports[p] for p in wait):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        why = f"exited with {proc.returncode}" if proc.poll() is not None else "is not listening"
                        pytest.fail(f"{block.where()} {why} (port {port}):\n{block.text}\n"
                                    f"output:\n{_tail(log.read_text(errors='replace'))}", pytrace=False)
                    time.sleep(0.05)

    def stop(self, server: tuple[Block, subprocess.Popen[bytes], set[int], Path]) -> None:
        _, proc, _, _ = server
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            except ProcessLookupError:
                pass
        self.servers.remove(server)

    def stop_all(self) -> None:
        for server in list(reversed(self.servers)):
            self.stop(server)


def _tail(text: str | bytes | None, chars: int = 3000) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return (text or "")[-chars:]


def _postgres_answers() -> bool:
    import psycopg
    from sqlalchemy.engine import make_url

    url = os.environ.get("ENGINE_TEST_DATABASE_URL") or PG_DEFAULT_URL
    try:
        info = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(info, connect_timeout=1):
            return True
    except Exception:  # noqa: BLE001 -- any failure means: not here
        return False


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    for name in COPIED:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_")) and k not in ("PYTHONPATH", "OAUTHLIB_INSECURE_TRANSPORT")}
    env.update(PATH=venv_bin + os.pathsep + env.get("PATH", ""), VIRTUAL_ENV=str(Path(venv_bin).parent),
               PYTHONUNBUFFERED="1", NO_COLOR="1")
    base = free_run(len(README_PORTS))
    box = Sandbox(tmp_path, {p: base + i for i, p in enumerate(README_PORTS)}, env)
    yield box
    box.stop_all()


# -- the tests --------------------------------------------------------------------------------------------

def test_readme_starts_with_make_demo_and_make_test() -> None:
    first = blocks()[0]
    commands = [line.split("#")[0].strip() for line in first.text.splitlines() if line.strip()]
    assert commands[:2] == ["make demo", "make test"], first.text
    before = README.read_text().split("```", 1)[0]
    assert before.count("\n## ") == 0, "the first code block comes before any section"


def test_every_code_block_says_whether_it_runs() -> None:
    unmarked = [b.where() for b in blocks() if b.lang in CODE_LANGS and not ({"runnable", "norun"} & b.words)]
    assert not unmarked, f"mark these `runnable` or `norun`: {unmarked}"
    assert [b for b in blocks() if b.runnable], "the README has no runnable block"


def test_block_parser() -> None:
    got = blocks("x\n```sh runnable server wait=8001,8002 timeout=9\npython -m sim\n```\n```yaml\na: 1\n```\n")
    assert [(b.line, b.lang, b.words, b.opts, b.text) for b in got] == [
        (2, "sh", {"runnable", "server"}, {"wait": "8001,8002", "timeout": "9"}, "python -m sim\n"),
        (5, "yaml", set(), {}, "a: 1\n")]


def test_readme_runs(sandbox: Sandbox) -> None:
    """Every runnable block, in order; servers up until a later one needs their port, or the end."""
    skipped: list[str] = []
    timings: list[str] = []
    pg = None
    for block in [b for b in blocks() if b.runnable]:
        if block.opts.get("needs") == "postgresql":
            pg = _postgres_answers() if pg is None else pg
            if not pg:
                skipped.append(block.where())
                continue
        started = time.perf_counter()
        if "server" in block.words:
            sandbox.start(block)
        else:
            sandbox.run(block)
        timings.append(f"line {block.line}: {time.perf_counter() - started:.1f} s")
    assert timings
    print("README blocks:", ", ".join(timings))
    if skipped:
        print(f"no PostgreSQL server answered; not run: {skipped}")
