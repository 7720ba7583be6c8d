"""Who works at the station: operator name and role, and the optional engineer PIN (Qt-free).

Inspectors inspect, chat and override with a reason; engineers may also edit reference sets,
confirm references and change settings. The role gates what the GUI offers *and* what the recorder
accepts, so a button enabled by mistake still cannot write an engineer's change.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from desktop_app.history.errors import HistoryError

INSPECTOR = "inspector"
ENGINEER = "engineer"
ROLES = (INSPECTOR, ENGINEER)


class NotAllowedError(HistoryError):
    """The logged-in operator's role does not allow this action."""


@dataclass(frozen=True)
class Operator:
    name: str
    role: str = INSPECTOR

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise HistoryError("an operator needs a name")
        if self.role not in ROLES:
            raise HistoryError(f"unknown role {self.role!r}; choose from {ROLES}")

    @property
    def is_engineer(self) -> bool:
        return self.role == ENGINEER

    def require(self, role: str, action: str) -> None:
        """Raise NotAllowedError unless this operator holds `role` (engineer covers inspector)."""
        if role == ENGINEER and not self.is_engineer:
            raise NotAllowedError(f"{action} needs an engineer; {self.name} is logged in as {self.role}")


def default_operator() -> Operator:
    """Where a plant does not want logins: the system user, as an inspector."""
    return Operator(os.environ.get("USER") or os.environ.get("USERNAME") or "operator", INSPECTOR)


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """`salt$hash` (PBKDF2-SHA256), what the settings file keeps instead of the PIN itself."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, 100_000)
    return f"{salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    """True when no PIN is configured, or `pin` matches the stored hash."""
    if not stored:
        return True
    salt_hex, _, digest_hex = stored.partition("$")
    try:
        expected = hash_pin(pin, bytes.fromhex(salt_hex)).partition("$")[2]
    except ValueError:
        return False
    return hmac.compare_digest(expected, digest_hex)


def login(name: str, role: str, pin: str = "", engineer_pin_hash: str = "") -> Operator:
    """The operator for a login form; an engineer must give the PIN when one is configured."""
    operator = Operator(name.strip(), role)
    if operator.is_engineer and not check_pin(pin, engineer_pin_hash):
        raise NotAllowedError("wrong engineer PIN")
    return operator
