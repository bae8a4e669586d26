"""Processes beside this one: collect's workers, and the outputs written beside each other (the summary beside
the reports, which collect writes itself; the summary's 指标 table beside its other sheets). Each is forked,
ends with its parent, leaves interrupting to it, and opens its own database connections."""
from __future__ import annotations

import gc
import multiprocessing
import pickle
import signal
from contextlib import contextmanager

from ..errors import CannotRun


def picklable(e: Exception) -> Exception:
    try:
        pickle.dumps(e)
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


class Talk:
    """talk(say, hear) in a process of its own, which the parent talks with: say(x) sends x to the other side,
    hear() waits for what it sends (in the parent: raises what the child raised, or CannotRun if it died).
    A daemon unless told otherwise: multiprocessing lets no daemon start processes of its own."""

    def __init__(self, talk, daemon: bool = True):
        ctx = multiprocessing.get_context("fork")
        self._mine, theirs = ctx.Pipe()

        def run():
            _as_child()
            self._mine.close()
            try:
                talk(lambda x: theirs.send(("said", x)), theirs.recv)
            except BaseException as e:
                theirs.send(("failed", picklable(e)))
        self.process = ctx.Process(target=run, daemon=daemon)
        self.process.start()
        theirs.close()

    def say(self, x):
        self._mine.send(x)

    def hear(self):
        try:
            how, what = self._mine.recv()
        except EOFError:
            self.process.join()
            raise CannotRun(f"a process writing the outputs stopped unexpectedly (exit {self.process.exitcode})") \
                from None
        if how == "failed":
            raise what
        return what

    def end(self):
        """Stop it if it still runs (the parent failed or finished): no process is left behind."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self._mine.close()


class beside:
    """step() in a process of its own, beside this one (which goes on); calling this waits for it and gives what
    it returned, or raises what it raised; stop() ends it (this one failed meanwhile).

    Not a daemon: it may start processes of its own (the summary's long tables, see tables.py); it ends with
    its parent all the same (die_with_parent)."""

    def __init__(self, step):
        self._talk = Talk(lambda say, hear: say(step()), daemon=False)

    def __call__(self):
        try:
            return self._talk.hear()
        finally:
            self._talk.end()

    def stop(self):
        self._talk.end()


def _as_child():
    # what the parent made stays shared: a collection in this process would walk (and so copy) every object
    # inherited, page by page (each process writing the summary held 40-50 MB of its own)
    gc.freeze()
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides; it stops us if it is interrupted


@contextmanager
def few_collections():
    """Reading files makes millions of short-lived objects, nearly none of them in a cycle (refcounting frees
    them): the cyclic GC runs every 50,000 allocations rather than 700, and its full passes over what a
    province's reading keeps cached (layouts, versions) seldom. A collection of 1,000 returns spent 9% of its
    reading in the GC, 4% after."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def die_with_parent():
    """Linux: end this process when its parent dies, even by SIGKILL."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
