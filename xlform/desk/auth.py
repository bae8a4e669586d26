"""Secrets of the desk: department link tokens (only their sha256 is stored), the office password (scrypt,
in memory only), CSRF tokens. Every comparison of a secret is constant-time."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

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
