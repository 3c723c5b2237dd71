"""Webhook signatures (pure), checked against what the fakes really send."""
from __future__ import annotations

import pytest

from engine.sync.signatures import (
    canopy_signature,
    qbo_signature,
    verify_canopy,
    verify_qbo,
)
from sim.fake_canopy.webhooks import signature as fake_canopy_signature
from sim.fake_qbo.webhooks import sign as fake_qbo_sign

BODY = b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": []}}]}'
SECRET = "s" * 24
NOW = 1_736_960_400


# -- QBO -----------------------------------------------------------------------------------------------
def test_qbo_accepts_what_the_fake_signs() -> None:
    sig = fake_qbo_sign("verifier", BODY)
    assert sig == qbo_signature(BODY, "verifier")
    assert verify_qbo(BODY, sig, "verifier")
    assert verify_qbo(BODY, f"  {sig} ", "verifier")


@pytest.mark.parametrize("signature", [None, "", "not base64 at all!", "AAAA", fake_qbo_sign("other", BODY)])
def test_qbo_refuses_missing_malformed_and_wrong_signatures(signature: str | None) -> None:
    assert not verify_qbo(BODY, signature, "verifier")


def test_qbo_refuses_a_changed_body_and_an_empty_token() -> None:
    sig = fake_qbo_sign("verifier", BODY)
    assert not verify_qbo(BODY + b" ", sig, "verifier")
    assert not verify_qbo(BODY, fake_qbo_sign("", BODY), "")


# -- Canopy --------------------------------------------------------------------------------------------
def test_canopy_accepts_what_the_fake_signs() -> None:
    header = fake_canopy_signature(SECRET, NOW, BODY)
    assert header == canopy_signature(BODY, SECRET, NOW)
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW) is None
    assert verify_canopy(BODY, header, None, SECRET, now=NOW + 10) is None  # Canopy-Timestamp is optional


def test_canopy_missing_signature() -> None:
    assert verify_canopy(BODY, None, str(NOW), SECRET, now=NOW) == "missing_signature"
    assert verify_canopy(BODY, "  ", str(NOW), SECRET, now=NOW) == "missing_signature"


@pytest.mark.parametrize("header", ["garbage", f"t={NOW}", "v1=abc", f"t=abc,v1={'0' * 64}", f"t={NOW},v1=",
                                   f"t={NOW},t={NOW},v1={'0' * 64}", f"t=-{NOW},v1={'0' * 64}"])
def test_canopy_malformed_headers(header: str) -> None:
    assert verify_canopy(BODY, header, None, SECRET, now=NOW) == "malformed"


def test_canopy_timestamp_header_must_match_the_signed_time() -> None:
    header = canopy_signature(BODY, SECRET, NOW)
    assert verify_canopy(BODY, header, str(NOW + 1), SECRET, now=NOW) == "malformed"


def test_canopy_bad_signatures() -> None:
    header = canopy_signature(BODY, SECRET, NOW)
    assert verify_canopy(BODY + b"x", header, str(NOW), SECRET, now=NOW) == "bad_signature"
    assert verify_canopy(BODY, header, str(NOW), "t" * 24, now=NOW) == "bad_signature"
    assert verify_canopy(BODY, header, str(NOW), "", now=NOW) == "bad_signature"
    # The time is part of what is signed: the same MAC under another t does not verify.
    mac = header.split("v1=")[1]
    assert verify_canopy(BODY, f"t={NOW + 1},v1={mac}", None, SECRET, now=NOW) == "bad_signature"


def test_canopy_stale_and_future_timestamps() -> None:
    header = canopy_signature(BODY, SECRET, NOW)
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW + 300) is None  # the edge is still fresh
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW - 300) is None
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW + 301) == "stale_timestamp"  # a replay
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW - 301) == "stale_timestamp"  # from the future
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW + 50, tolerance_s=30) == "stale_timestamp"


def test_canopy_checks_the_mac_before_the_time() -> None:
    """A forged, old delivery is reported as forged, not as stale."""
    header = canopy_signature(BODY, "t" * 24, NOW)
    assert verify_canopy(BODY, header, str(NOW), SECRET, now=NOW + 10_000) == "bad_signature"


def test_canopy_accepts_any_matching_v1_for_secret_rotation() -> None:
    good = canopy_signature(BODY, SECRET, NOW).split("v1=")[1]
    old = canopy_signature(BODY, "o" * 24, NOW).split("v1=")[1]
    assert verify_canopy(BODY, f"t={NOW},v1={old},v1={good}", None, SECRET, now=NOW) is None
    assert verify_canopy(BODY, f"t={NOW},v0=whatever,v1={good.upper()}", None, SECRET, now=NOW) is None
