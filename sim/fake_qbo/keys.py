"""The signing key behind `id_token`s and the JWKS that publishes it."""
from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from sim.core import jsonutil
from sim.core.context import SimContext

KID = "fake-qbo-1"


def _key(ctx: SimContext) -> rsa.RSAPrivateKey:
    key = ctx.extra.get("rsa_key")
    if key is None:
        key = ctx.extra["rsa_key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key


def jwks(ctx: SimContext) -> dict[str, Any]:
    jwk = jsonutil.loads(RSAAlgorithm.to_jwk(_key(ctx).public_key()))
    jwk.update(kid=KID, use="sig", alg="RS256")
    return {"keys": [jwk]}


def id_token(ctx: SimContext, *, issuer: str, client_id: str, sub: str, realm: str | None,
             now: float, email: str | None) -> str:
    claims: dict[str, Any] = {"iss": issuer, "aud": [client_id], "sub": sub, "iat": int(now),
                              "exp": int(now) + 3600, "auth_time": int(now)}
    if realm:
        claims["realmid"] = realm
    if email:
        claims["email"] = email
    return jwt.encode(claims, _key(ctx), algorithm="RS256", headers={"kid": KID})
