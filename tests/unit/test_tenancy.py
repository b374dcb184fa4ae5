"""The signed tenant token, computed by hand (RFC 2104 HMAC from hashlib.sha256)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tenantcost.db.tenancy import parse_key, tenant_token
from tenantcost.errors import UserError

KEY = bytes(range(32))
TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


def hmac_by_hand(key: bytes, message: bytes) -> str:
    padded = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in padded) + inner).hexdigest()


def test_token_layout_and_signature() -> None:
    token = tenant_token(KEY, TENANT, 4242, ttl_seconds=300, now=1_700_000_000.9)
    # expires = int(1_700_000_000.9) + 300 = 1_700_000_300
    message = f"v1.{TENANT}.1700000300.4242"
    assert token == f"{message}.{hmac_by_hand(KEY, message.encode())}"


def test_hex_key_is_the_same_key() -> None:
    assert tenant_token(KEY.hex(), TENANT, 1, now=0) == tenant_token(KEY, TENANT, 1, now=0)


@pytest.mark.parametrize("bad", ["zz" * 32, "00" * 31, b"\0" * 65, ""])
def test_bad_keys_are_refused(bad: str | bytes) -> None:
    with pytest.raises(UserError):
        parse_key(bad)


def test_a_non_positive_ttl_is_refused() -> None:
    with pytest.raises(UserError, match="ttl_seconds"):
        tenant_token(KEY, TENANT, 1, ttl_seconds=0)
