"""HMAC-SHA256 webhook signatures: how a price feed proves a POST came from it.

The sender computes ``HMAC-SHA256(secret, timestamp + "." + raw_body)`` and sends

    X-CryptoAlerts-Timestamp: <Unix seconds>
    X-CryptoAlerts-Signature: v1=<lowercase hex digest>

The timestamp is inside the signed bytes, so a captured request cannot be replayed
with a fresh timestamp, and requests more than :data:`DEFAULT_TOLERANCE_S` from
the receiver's clock are refused, so it cannot be replayed later either. Several
``v1=`` values separated by commas are accepted (any one matching is enough), which
lets a sender sign with an old and a new secret while the secret rotates. Digests
are compared with :func:`hmac.compare_digest`, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from typing import Final

from cryptoalerts.errors import CryptoAlertsError

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "sign",
    "signed_headers",
    "verify",
]

TIMESTAMP_HEADER: Final = "X-CryptoAlerts-Timestamp"
SIGNATURE_HEADER: Final = "X-CryptoAlerts-Signature"
DEFAULT_TOLERANCE_S: Final = 300.0
_SCHEME: Final = "v1="


class SignatureError(CryptoAlertsError):
    """The request is not signed, or not signed with our secret, or signed too long ago.

    The message says which, but never echoes the expected digest.
    """


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-CryptoAlerts-Signature`` value for ``body`` sent at ``timestamp``.

    >>> sign(b"k", "1700000000", b"{}")
    'v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146'
    """
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return _SCHEME + digest


def signed_headers(secret: bytes, body: bytes, now: float) -> dict[str, str]:
    """Both headers a sender attaches to ``body`` (what the CLI and tests send)."""
    timestamp = str(int(now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: bytes,
    header: Callable[[str], str | None],
    body: bytes,
    now: float,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """Check the signature headers (read through ``header(name)``) against ``body``.

    Raises:
        SignatureError: a header is missing or malformed, the timestamp is more
            than ``tolerance_s`` from ``now``, or no signature matches.
    """
    timestamp = header(TIMESTAMP_HEADER)
    signature = header(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        sent_at = float(timestamp) if timestamp.isascii() else math.nan
    except ValueError:
        sent_at = math.nan
    if not math.isfinite(sent_at):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds")
    if abs(now - sent_at) > tolerance_s:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance_s:g} s from the server clock")
    expected = sign(secret, timestamp, body).encode("ascii")
    matched = False
    for candidate in signature.split(","):
        # No early exit: every candidate is compared, each in constant time.
        matched |= hmac.compare_digest(candidate.strip().encode("utf-8", "replace"), expected)
    if not matched:
        raise SignatureError("signature does not match")
