"""One hash chain per record: each history row is linked to the one before it in its chain.

A prescription's chain is its events (issue, route, verify, review, dispense, undo of a pack,
settle, reverse, cancel, expire), each with what its step wrote (the signed content's digest,
the packs drawn, the review and its signature); a settlement's chain is its events, the first
with its amounts and lines. For link n of a record:

    link_n = HMAC-SM3(K, head_{n-1} || canonical(content_n))      stored on the row (`chain_hash`)
    head_n = HMAC-SM3(K, "head" || link_n)                         stored on the record (`history_head`)
    head_0 = HMAC-SM3(K, "<kind>:<identity>")

K is HISTORY_KEY, kept outside the database: whoever can write the database cannot compute a
link, so a changed, inserted, removed or reordered row breaks the chain at that row, and a
removed last row leaves the record's head pointing at nothing. The head is also what each
write compares-and-sets in the conditional UPDATE it already makes, so two writers of one
record never fork its chain, and different records never contend.
"""

from datetime import date, datetime
from decimal import Decimal

from flask import current_app

from dualchannel.db import ScaledDecimal
from dualchannel.signatures.crypto import canonical, hmac_sm3, instant

_EXTENSION = "dualchannel.history_key"


def _key() -> bytes:
    key = current_app.extensions.get(_EXTENSION)
    if key is None:
        key = current_app.extensions[_EXTENSION] = str(current_app.config["HISTORY_KEY"]).encode()
    return key


def genesis(kind: str, identity: str) -> str:
    """head_0 of a record's chain: `kind` ("prescription", "settlement") and what identifies it."""
    return hmac_sm3(_key(), f"{kind}:{identity}".encode()).hex()


def link(head: str, content: dict) -> str:
    """The hash of the link with `content` after the chain's `head`."""
    return hmac_sm3(_key(), bytes.fromhex(head) + canonical(content)).hex()


def next_head(link_hash: str) -> str:
    """The record's head once `link_hash` is its last link."""
    return hmac_sm3(_key(), b"head" + bytes.fromhex(link_hash)).hex()


def event_content(event, extra: dict | None = None) -> dict:
    """What a history event's link covers: every column but its ids and its own hash, plus what
    its step wrote elsewhere (`extra`)."""
    content = {"action": event.action, "from": getattr(event, "from_status", None),
               "to": event.to_status, "actor": event.actor, "reason": event.reason,
               "detail": getattr(event, "detail", None), "at": instant(event.at)}
    if extra:
        content["extra"] = extra
    return content


def append(head: str, event, extra: dict | None = None) -> str:
    """Link `event` after `head`: sets its `chain_hash` and returns the record's new head."""
    event.chain_hash = link(head, event_content(event, extra))
    return next_head(event.chain_hash)


def row_content(row, exclude: tuple[str, ...] = ()) -> dict:
    """Every column of a row but `exclude`, as canonical JSON values: exact decimals with their
    column's places, instants as `instant`, dates ISO."""

    content = {}
    for column in row.__table__.columns:
        if column.key in exclude:
            continue
        value = getattr(row, column.key)
        if value is None:
            pass
        elif isinstance(column.type, ScaledDecimal):
            value = format(Decimal(value).quantize(Decimal(1).scaleb(-column.type.places)), "f")
        elif isinstance(value, datetime):
            value = instant(value)
        elif isinstance(value, date):
            value = value.isoformat()
        content[column.key] = value
    return content
