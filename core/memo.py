"""One process-wide memo of loaded models, keyed ``(role, spec, device, ...)``: the loaders
(:mod:`core.loaders`) and the emoji predictor share it, so "is it loaded" and "how long did it
take" have one answer. Imports nothing heavy (no torch), so a light command can use it.

Example:
    >>> enc = memoized(("embedder", "builtin:minilm", "cpu"), build)  # doctest: +SKIP
    >>> load_seconds("embedder", "builtin:minilm")                    # doctest: +SKIP
    0.84
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_memo: dict[tuple, object] = {}
_memo_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}
_build_seconds: dict[tuple, float] = {}  # key -> wall seconds of the build that loaded it


def memoized(key: tuple, build: Callable[[], T]) -> T:
    """Build once per key, even when several threads ask at the same moment."""
    with _memo_lock:
        if key in _memo:
            return _memo[key]  # type: ignore[return-value]
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _memo:
            start = time.perf_counter()
            _memo[key] = build()
            _build_seconds[key] = time.perf_counter() - start
    return _memo[key]  # type: ignore[return-value]


def load_seconds(role: str, spec: str) -> float | None:
    """How long the load of ``role``'s model ``spec`` took in this process (None: not loaded).

    Example: after ``load_embedder(settings)`` took 3.1 s, ``load_seconds("embedder",
    settings.embedding_model)`` is 3.1 however often the memo is hit afterwards.
    """
    times = [t for k, t in _build_seconds.items() if k[0] == role and k[1] == spec]
    return times[-1] if times else None


def find(prefix: tuple):
    """The memoized object whose key starts with ``prefix`` (None: nothing loaded)."""
    return next((m for k, m in list(_memo.items()) if k[:len(prefix)] == prefix), None)


def has_local(role: str, spec: str) -> bool:
    """Whether ``role``'s model ``spec`` is loaded in this process (a remote client is not)."""
    return any(k[0] == role and k[1] == spec and k[2:3] != ("remote",) for k in _memo)


def forget(role: str) -> None:
    """Drop ``role``'s loaded models from the memo (tests; a model file changed on disk)."""
    with _memo_lock:
        for key in [k for k in _memo if k[0] == role]:
            del _memo[key]
            _build_seconds.pop(key, None)
