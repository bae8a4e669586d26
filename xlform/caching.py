"""What the reader works out once per issued template version, kept while it is likely to be met again."""
from __future__ import annotations

import threading


class VersionCache:
    """A cache for what one template version gives (its registry entry, layout, checks): a collection of few
    templates meets each version in many returns, a province's collection meets most versions once (2Q).

    A new entry waits among the `recent` few. One met again is kept among the `kept` (up to that many): met
    while still recent, or made again while its key is among the `remembered` keys of entries that left the
    recent few (their hashes only: a collection of 25 templates meets each again after 24 others; a hash met
    by another key only places that entry among the kept). So a province's
    collection keeps a handful of versions alive, freed while still warm in the CPU's caches, where a single
    cache of 64 kept each for 64 returns (freeing them, cold, cost a tenth of a read); and a collection of 25
    templates still finds them kept from their second return on.

    Parts are emptied whole when full; threads of the desk share it (a lock where keys are moved)."""

    def __init__(self, recent: int = 8, kept: int = 64, remembered: int = 1024):
        self.recent_size, self.kept_size, self.remembered_size = recent, kept, remembered
        self.recent: dict = {}
        self.kept: dict = {}
        self.remembered: set = set()
        self._lock = threading.Lock()

    def get(self, key):
        found = self.kept.get(key)
        if found is None:
            found = self.recent.pop(key, None)
            if found is not None:   # met again: kept
                self._keep(key, found)
        return found

    def put(self, key, value):
        """Keep `value` (not None) for `key`; returns it."""
        if hash(key) in self.remembered:   # made again: kept
            return self._keep(key, value)
        with self._lock:
            if len(self.recent) >= self.recent_size:
                if len(self.remembered) + len(self.recent) > self.remembered_size:
                    self.remembered.clear()
                self.remembered.update(map(hash, tuple(self.recent)))   # (a copy: `get` takes no lock)
                self.recent.clear()
            self.recent[key] = value
        return value

    def _keep(self, key, value):
        if len(self.kept) >= self.kept_size:
            self.kept.clear()
        self.kept[key] = value
        return value

    def clear(self):
        with self._lock:
            self.recent.clear()
            self.kept.clear()
            self.remembered.clear()

    def __len__(self):
        return len(self.recent) + len(self.kept)
