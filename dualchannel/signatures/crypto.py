"""SM2 signatures with SM3 (GB/T 32918.2, GB/T 32905) and the canonical bytes they cover.

Everything goes through tongsuopy, the Python binding of Tongsuo (铜锁, the OpenAtom
Foundation's OpenSSL fork maintained for China's commercial cryptography). A signature is the
DER-encoded (r, s) over SM3(Z || M) with the default signer ID `1234567812345678`, as GM/T 0009
and the SM2 certificates of hospital CAs use: any conforming implementation (GmSSL, gmssl,
BouncyCastle, a CA's signing server) verifies it. No database and no configuration here.
"""

import base64
import binascii
import json
from datetime import datetime, timezone
from functools import lru_cache

from cryptography.hazmat.primitives import hashes as openssl_hashes
from cryptography.hazmat.primitives import hmac
from tongsuopy.crypto import hashes, serialization
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature
from tongsuopy.crypto.exceptions import InternalError, InvalidSignature

ALGORITHM = "SM2-with-SM3"


def canonical(document) -> bytes:
    """The one byte form of a signed or chained document: JSON with keys sorted, no spaces,
    UTF-8 text unescaped, no floats. For the strings, integers, booleans, nulls, lists and
    objects the service signs this is exactly RFC 8785 (JSON Canonicalization Scheme)."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode()


def instant(value: datetime) -> str:
    """A timestamp in canonical form: UTC, microseconds, `Z` (2026-05-01T02:30:00.000000Z)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3, by OpenSSL (through `cryptography`; tongsuopy has no HMAC)."""
    mac = hmac.HMAC(key, openssl_hashes.SM3())
    mac.update(data)
    return mac.finalize()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes | None:
    """Strict base64 decoding; None for anything that is not."""
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SM2())


def private_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 DER, unencrypted: the caller encrypts it before it is stored."""
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_der(der: bytes) -> ec.EllipticCurvePrivateKey:
    return serialization.load_der_private_key(der, None)


def public_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The public key as SubjectPublicKeyInfo DER (id-ecPublicKey, curve sm2p256v1)."""
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def public_pem(der: bytes) -> str:
    return serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_der_from_pem(pem: str) -> bytes:
    """The DER of a PEM public key, or ValueError."""
    key = serialization.load_pem_public_key(pem.encode())
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def new_ca_key() -> str:
    """A new CA private key as PKCS#8 PEM (what SIGNING_CA_KEY holds)."""
    return new_private_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()


def load_private_pem(pem: str) -> ec.EllipticCurvePrivateKey:
    return serialization.load_pem_private_key(pem.encode(), None)


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SM3()))


@lru_cache(maxsize=4096)
def _public_key(der: bytes):
    return serialization.load_der_public_key(der)


def _canonical_der(signature: bytes) -> bool:
    """Whether `signature` is exactly the DER of SEQUENCE {INTEGER r, INTEGER s}, in its one
    canonical encoding: anything else is refused before it reaches the library."""
    if len(signature) < 8 or signature[0] != 0x30 or signature[1] != len(signature) - 2:
        return False
    values, at = [], 2
    for _ in range(2):
        if at + 2 > len(signature) or signature[at] != 0x02:
            return False
        size = signature[at + 1]
        values.append(int.from_bytes(signature[at + 2:at + 2 + size], "big"))
        at += 2 + size
    return at == len(signature) and encode_dss_signature(*values) == signature


def verifies(public: bytes, signature: bytes | None, data: bytes) -> bool:
    """Whether `signature` is an SM2 signature of `data` by the key `public` (SPKI DER). A
    malformed key or signature does not verify. Parsed keys are kept (by their bytes)."""
    if not signature or not _canonical_der(signature):
        return False
    try:
        _public_key(public).verify(signature, data, ec.ECDSA(hashes.SM3()))
    except (InvalidSignature, InternalError, ValueError, TypeError):
        return False
    return True


@lru_cache(maxsize=8192)
def verifies_once(public: bytes, signature: bytes, data: bytes) -> bool:
    """`verifies`, remembered for the same three byte strings (a pure function of them, so
    nothing changed is ever answered from memory): a key's certificate is checked with every
    signature it made, and a prescription at each of verify, review and dispense."""
    return verifies(public, signature, data)
