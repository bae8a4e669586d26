"""Processes beside this one: collect's workers, and the outputs written beside each other (the summary beside
the reports, the summary's long tables beside each other). Each is forked, ends with its parent, leaves
interrupting to it, and opens its own database connections."""
from __future__ import annotations

import multiprocessing
import pickle
import signal
import time

from ..errors import CannotRun


def picklable(e: Exception) -> Exception:
    try:
        pickle.dumps(e)
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


class beside:
    """step() in a process of its own, beside this one (which goes on); calling this waits for it and gives what
    it returned, or raises what it raised; stop() ends it (this one failed meanwhile).

    Not a daemon: it may start processes of its own (the summary's long tables, see tables.py); it ends with
    its parent all the same (die_with_parent)."""

    def __init__(self, step):
        ctx = multiprocessing.get_context("fork")
        self._results = results = ctx.SimpleQueue()

        def run():
            _as_child()
            try:
                results.put(("done", step()))
            except BaseException as e:
                results.put(("failed", picklable(e)))
        self.process = ctx.Process(target=run)
        self.process.start()

    def __call__(self):
        try:
            while self._results.empty() and self.process.is_alive():
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        self.process.join()
        if self._results.empty():
            raise CannotRun(f"a process writing the outputs stopped unexpectedly (exit {self.process.exitcode})")
        how, what = self._results.get()
        if how == "failed":
            raise what
        return what

    def stop(self):
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


class Talk:
    """talk(say, hear) in a process of its own, which the parent talks with: say(x) sends x to the other side,
    hear() waits for what it sends (in the parent: raises what the child raised, or CannotRun if it died)."""

    def __init__(self, talk):
        ctx = multiprocessing.get_context("fork")
        self._mine, theirs = ctx.Pipe()

        def run():
            _as_child()
            self._mine.close()
            try:
                talk(lambda x: theirs.send(("said", x)), theirs.recv)
            except BaseException as e:
                theirs.send(("failed", picklable(e)))
        self.process = ctx.Process(target=run, daemon=True)   # the summary's process is not a daemon (beside)
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


def _as_child():
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides; it stops us if it is interrupted


def die_with_parent():
    """Linux: end this process when its parent dies, even by SIGKILL."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
