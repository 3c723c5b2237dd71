"""Bulk work (a seed, a world's generation) with the cyclic garbage collector paused.

A bulk write keeps tens of thousands of fresh containers alive at once (a
decoded body, the records), and a process may hold a large world beside it:
that sets off full collections that walk the whole heap again and again (a
third of a 100,000-record seed's time). What bulk work creates is freed by
reference counting, so the collector can wait until it ends.

The pause is counted: two seeds at once (one per fake, in threads of one
process) keep it until the last one ends, and it ends only if it began on.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
