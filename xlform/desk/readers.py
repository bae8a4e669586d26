"""Returns read in worker processes, one a core. Reading a return is pure Python (expat callbacks, the rules):
in the server's threads every upload waited for one core while the other idled, and 50 departments at once
took 50 times a reading. A thread hands the file's path to a worker and waits (without holding the
interpreter); each worker keeps its own registry connection and caches. Measured on 2 quiet cores (`python -m
xlform.bench --only desk`): p95 of 20 uploads at once 223 -> 143 ms, of 50 uploads 662 -> 441 ms.

Workers are spawned (a forked child could inherit a lock another server thread held), end with the server
(`close`), and end by themselves when the server dies without closing them. A worker that dies on a file
costs that file a reading in the thread, never the upload."""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ..returns.reader import read_return
from ..storage.db import Location

_registry = None


def _start_worker(location: Location):
    global _registry
    from multiprocessing.connection import wait
    from ..issue.registry import Registry
    _registry = Registry(location, create=False)
    parent = multiprocessing.parent_process()
    if parent is not None:   # the server gone (killed), the worker goes too: no orphan left reading nothing
        threading.Thread(target=lambda: (wait([parent.sentinel]), os._exit(0)), daemon=True).start()


def _read(path: str):
    return read_return(Path(path), _registry)


class Readers:
    def __init__(self, registry: Location, workers: int):
        self.location, self.workers = registry, workers
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self.location,))
        for started in [pool.submit(int) for _ in range(self.workers)]:   # now, not on the first upload
            started.result()
        return pool

    def __call__(self, path: Path, registry):
        """read_return(path, registry), in a worker."""
        pool = self._pool
        try:
            return pool.submit(_read, str(path)).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = self._start()
            return read_return(path, registry)

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)
