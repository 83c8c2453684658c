"""Checks run one at a time off the message loop, at most one waiting per document: a newer edit
cancels the check an older one scheduled, so typing never queues work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Scheduler:
    """Debounced, cancellable checks keyed by document."""

    def __init__(self) -> None:
        # One thread: bnlint's project caches are shared between checks and are not locked, and
        # two checks at once would only share two cores with the editor.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bnlint-check")
        self._pending: dict[str, asyncio.Task] = {}

    def schedule(self, key: str, delay: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` after `delay` seconds unless `key` is scheduled again before it finishes."""
        old = self._pending.pop(key, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(self._after(key, delay, job))
        self._pending[key] = task

    def cancel(self, key: str) -> None:
        task = self._pending.pop(key, None)
        if task is not None:
            task.cancel()

    async def _after(self, key: str, delay: float, job: Callable[[], Awaitable[None]]) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            await job()
        finally:
            if self._pending.get(key) is asyncio.current_task():
                del self._pending[key]

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` on the checking thread. A cancelled caller stops waiting at once; a check
        already running finishes on its own (Python cannot stop it) and its result is dropped."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, work)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()
        self._worker.shutdown(wait=False, cancel_futures=True)
