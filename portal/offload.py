"""CPU-bound request work (search, request-type suggestions, triage) off the event loop.

A search is bounded (kb/search.py) but still costs up to a few hundred milliseconds of
CPU. Run on the event loop it would hold up every other request (issue #10: `/healthz`
waited seconds behind one attacker). :func:`run` runs it in a worker thread, one at a
time per process (``CPU_THREADS``): threads share one interpreter lock, so two searches
at once finish no sooner, and every further busy thread makes the event loop wait
longer for the lock. Waiting searches queue on their own limiter, so the shared thread
pool stays free for database work however many searches are waiting. With several
worker processes (``--workers``), each has its own.

While a worker thread computes, the event loop needs the interpreter lock back after
every system call; Python hands it over after the switch interval (5 ms by default),
so a request that makes a few system calls waited tens of milliseconds. This module
shortens the interval to 1 ms for the process.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import weakref
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

CPU_THREADS = 1  # searches at once per process
SWITCH_INTERVAL = 0.001  # seconds

P = ParamSpec("P")
T = TypeVar("T")

# one limiter per event loop (tests run several loops in one process)
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)

if sys.getswitchinterval() > SWITCH_INTERVAL:
    sys.setswitchinterval(SWITCH_INTERVAL)


def _limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(CPU_THREADS)
    return limiter


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, at most CPU_THREADS at a time."""
    return await anyio.to_thread.run_sync(
        functools.partial(fn, *args, **kwargs), limiter=_limiter()
    )
