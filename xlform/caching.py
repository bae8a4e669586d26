"""What the reader works out once per issued template version, kept while it is likely to be met again."""
from __future__ import annotations


class VersionCache:
    """A cache for what one template version gives (its registry entry, layout, checks): a collection of few
    templates meets each version in many returns, a province's collection meets most versions once. A new
    entry waits among the `recent` few; only one met again is kept among the `kept` (up to `kept` of them).
    So a province's collection keeps a handful of versions alive, freed while still warm in the CPU's caches,
    where a single cache of 64 kept each for 64 returns (freeing it then cost a tenth of a read); and a
    collection of 25 templates still finds each of them kept.

    Parts are emptied whole when full (never iterated): threads of the desk share it under the GIL alone."""

    def __init__(self, recent: int = 8, kept: int = 64):
        self.recent_size, self.kept_size = recent, kept
        self.recent: dict = {}
        self.kept: dict = {}

    def get(self, key):
        found = self.kept.get(key)
        if found is None:
            found = self.recent.pop(key, None)
            if found is not None:   # met again: kept
                if len(self.kept) >= self.kept_size:
                    self.kept.clear()
                self.kept[key] = found
        return found

    def put(self, key, value):
        """Keep `value` (not None) for `key`; returns it."""
        if len(self.recent) >= self.recent_size:
            self.recent.clear()
        self.recent[key] = value
        return value

    def clear(self):
        self.recent.clear()
        self.kept.clear()

    def __len__(self):
        return len(self.recent) + len(self.kept)
