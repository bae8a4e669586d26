"""Secrets of the desk: department link tokens (only their sha256 is stored), the office password (scrypt,
in memory only), CSRF tokens, the cookies' key, wrong passwords by address. Every comparison of a secret is
constant-time."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..errors import CannotRun

TOKEN_BYTES = 32        # secrets.token_urlsafe(32): 256 bits, 43 characters
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "maxmem": 64 * 2 ** 20, "dklen": 32}


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def department_of(token: str, links: list[tuple]) -> str | None:
    """The department whose link this token is, comparing its hash with every stored one in constant time
    (no early exit: the time says nothing about which hash came close)."""
    if not token or len(token) > 128:
        return None
    digest = token_hash(token).encode()
    found = None
    for department, stored, *_ in links:
        if hmac.compare_digest(digest, stored.encode()):
            found = department
    return found


@dataclass(frozen=True)
class Password:
    """The office password as a salted scrypt hash; the clear text is not kept."""
    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, clear: str) -> "Password":
        salt = secrets.token_bytes(16)
        return cls(salt, hashlib.scrypt(clear.encode("utf-8"), salt=salt, **_SCRYPT))

    def matches(self, clear: str) -> bool:
        if not isinstance(clear, str) or len(clear) > 1024:
            return False
        return hmac.compare_digest(self.digest, hashlib.scrypt(clear.encode("utf-8", "surrogatepass"),
                                                               salt=self.salt, **_SCRYPT))


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def same(a, b) -> bool:
    """Two secrets equal, in constant time; a missing one never matches."""
    if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


KEY_FILE = ".desk-key"


def desk_key(folder: Path) -> bytes:
    """The key that signs the desk's cookies, kept in `folder` (readable by its owner only) so that a restart
    keeps everyone's page and login working; made once, by whichever process comes first."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise CannotRun(f"the desk's key file {path} is damaged; delete it (everyone logs in again)") from None
        return key
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
        f.flush()
        os.fsync(f.fileno())
    return path.read_bytes()


class Guesses:
    """Wrong office passwords by client address. After FREE wrong ones in a row, each further try from that
    address waits 1, 2, 4 … up to LONGEST seconds; the right password from another address is never slowed.
    At most KEPT addresses are remembered (the oldest forgotten first), each for a day after its last try."""
    FREE, LONGEST, KEPT, DAY = 5, 300, 10_000, 86_400

    def __init__(self):
        self._by: OrderedDict[str, tuple[int, float, float]] = OrderedDict()   # address -> (count, until, last)
        self._lock = threading.Lock()

    def wait(self, address: str, now: float) -> float:
        with self._lock:
            count, until, last = self._by.get(address, (0, 0.0, now))
            if now - last > self.DAY:
                self._by.pop(address, None)
                return 0.0
            return max(0.0, until - now)

    def failed(self, address: str, now: float) -> int:
        """Count a wrong password; the seconds the address now waits (0 for its first FREE)."""
        with self._lock:
            count, _, _ = self._by.pop(address, (0, 0.0, now))
            count += 1
            wait = min(2 ** (count - self.FREE), self.LONGEST) if count >= self.FREE else 0
            self._by[address] = (count, now + wait, now)
            while len(self._by) > self.KEPT:
                self._by.popitem(last=False)
            return wait

    def count(self, address: str) -> int:
        with self._lock:
            return self._by.get(address, (0, 0.0, 0.0))[0]

    def forget(self, address: str):
        with self._lock:
            self._by.pop(address, None)
