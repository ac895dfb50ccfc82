"""
PSD2 dynamic linking: the transaction a code authorises (amount and payee), bound into its hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Transaction:
    """A payment being authorised, as the caller wrote it (``"€42.50"``, ``"Acme Ltd"``)."""

    amount: str
    payee: str

    def binding(self) -> str:
        """What the code's HMAC input is extended with: unambiguous for any amount and payee."""
        return "psd2:" + json.dumps([self.amount, self.payee], ensure_ascii=False)


def transaction_of(amount: str | None, payee: str | None) -> Transaction | None:
    """The transaction of an ``amount`` and a ``payee`` (both or neither), or None."""
    if amount is None or payee is None:
        return None
    return Transaction(amount, payee)
