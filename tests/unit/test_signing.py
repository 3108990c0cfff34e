"""Signing and chaining rules with plain values (issue 24): canonical bytes, SM3/SM2, keys'
trust at an instant, the review in the transition table, the chain's links, fresh secrets."""

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from flask import Flask

from dualchannel import _ensure_secrets
from dualchannel.history import chain
from dualchannel.prescriptions import rules
from dualchannel.prescriptions.rules import Action, Status
from dualchannel.signatures import crypto
from dualchannel.signatures import rules as signing

T0 = datetime(2026, 5, 1, 2, 30, tzinfo=timezone.utc)


def test_canonical_form_is_sorted_compact_utf8():
    document = {"b": 1, "a": {"z": "诺欣妥", "y": [True, None, "\n"]}}
    assert crypto.canonical(document) == '{"a":{"y":[true,null,"\\n"],"z":"诺欣妥"},"b":1}'.encode()
    assert crypto.canonical(json.loads(crypto.canonical(document))) == crypto.canonical(document)
    with pytest.raises(ValueError):
        crypto.canonical({"x": float("nan")})


def test_instants_are_utc_with_microseconds():
    china = T0.astimezone(timezone(timedelta(hours=8)))
    assert crypto.instant(china) == crypto.instant(T0) == "2026-05-01T02:30:00.000000Z"


def test_sm3_and_hmac_sm3_known_answers():
    assert crypto.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    # Computed by RFC 2104 written out over SM3: a key shorter than the block, a block's worth, and
    # one longer (hashed first).
    known = {b"k": "af684d81732e81f6a9c5dd0aa68f27667b36debcebe29e094a654c3d496a898a",
             b"k" * 64: "e324ecfff1ae9b48cf8818257208410221b39d94e74f821f247e5f3bf967c812",
             b"k" * 100: "2d87dd3ffa1452e8e40d9123a02824fb7dd98ae4a52683287245f1736dc610ef"}
    for key, expected in known.items():
        assert crypto.hmac_sm3(key, b"abc").hex() == expected
        if "sm3" in hashlib.algorithms_available:  # the Python build's OpenSSL agrees
            assert crypto.hmac_sm3(key, b"abc") == hmac.new(key, b"abc", "sm3").digest()


def test_a_signature_verifies_only_for_its_key_and_bytes_in_canonical_der():
    key, other = crypto.new_private_key(), crypto.new_private_key()
    public, signature = crypto.public_der(key), crypto.sign(key, b"content")
    assert crypto.verifies(public, signature, b"content")
    assert not crypto.verifies(public, signature, b"content!")
    assert not crypto.verifies(crypto.public_der(other), signature, b"content")
    assert not crypto.verifies(b"not a key", signature, b"content")
    for bad in (b"", b"\x30\x02\x01\x01", signature[:-1], signature + b"\0", b"\x30" * 80, None):
        assert not crypto.verifies(public, bad, b"content")
    # A private key survives its DER round trip (how it is stored, encrypted).
    assert crypto.verifies(public, crypto.sign(crypto.load_private_der(crypto.private_der(key)), b"x"), b"x")
    assert crypto.public_der_from_pem(crypto.public_pem(public)) == public


def key(valid_from=T0, days=365, revoked_at=None, holder="physician:D1"):
    return SimpleNamespace(holder=holder, valid_from=valid_from, valid_until=valid_from + timedelta(days=days),
                           revoked_at=revoked_at)


@pytest.mark.parametrize("subject, signed_at, problem", [
    (None, T0, "key_unknown"),
    (key(holder="physician:D2"), T0, "key_of_another_holder"),
    (key(), T0 - timedelta(seconds=1), "key_not_valid_at_signing"),
    (key(days=1), T0 + timedelta(days=1), "key_not_valid_at_signing"),
    (key(revoked_at=T0 + timedelta(hours=1)), T0 + timedelta(hours=1), "key_revoked"),
    (key(revoked_at=T0 + timedelta(hours=1)), T0 + timedelta(minutes=59), None),
    (key(), T0, None),
])
def test_a_key_is_trusted_within_its_validity_until_revoked(subject, signed_at, problem):
    assert signing.key_problem(subject, "physician:D1", signed_at) == problem
    if subject is not None and subject.holder == "physician:D1":
        assert signing.usable(subject, signed_at) is (problem is None)


def test_review_sits_between_verification_and_dispensing():
    assert rules.transition(Action.dispense, Status.verified) is None
    assert rules.transition(Action.dispense, Status.reviewed).target is Status.dispensed
    assert rules.transition(Action.review, Status.verified).target is Status.reviewed
    refusal = rules.transition(Action.refuse_review, Status.verified)
    assert refusal.target is Status.issued and refusal.by == "pharmacist"
    assert set(refusal.reasons) == set(rules.REVIEW_REFUSALS) and "other" in refusal.reasons
    assert "reason_code" in rules.check_reason(Action.refuse_review, None, "自由文本")  # a code is required
    assert Status.reviewed in rules.LIVE
    for action in (Action.cancel, Action.expire, Action.hand_back):
        assert rules.transition(action, Status.reviewed) is not None
    assert {t.action for t in rules.actions_from(Status.reviewed)} == {
        Action.dispense, Action.hand_back, Action.cancel, Action.not_dispense}


def test_signed_content_holds_no_id_number():
    prescription = SimpleNamespace(number="n1", patient_region="370800", physician_code="D1", institution_code="H1",
                                   diagnosis="心衰", issued_at=T0, valid_until=T0 + timedelta(days=1))
    patient = SimpleNamespace(id=7, id_hash="ab" * 32, name="张三", id_number_masked="370811********123X")
    items = [SimpleNamespace(drug_code="SAC", quantity=2, days_supply=28, dosage="bid")]
    content = rules.signed_content(prescription, patient, items)
    assert content["patient"] == {"id": 7, "id_hash": "ab" * 32, "name": "张三", "region": "370800"}
    assert "370811" not in json.dumps(content)


@pytest.fixture
def history_key():
    app = Flask(__name__)
    app.config["HISTORY_KEY"] = "k"
    with app.app_context():
        yield


def test_a_link_depends_on_its_content_and_the_head_before_it(history_key):
    head = chain.genesis("prescription", "n1")
    event = SimpleNamespace(action="issue", to_status="issued", actor="physician:D1", reason=None, detail=None, at=T0)
    first = chain.link(head, chain.event_content(event))
    assert first == chain.link(head, chain.event_content(event))
    assert first != chain.link(chain.genesis("prescription", "n2"), chain.event_content(event))
    assert first != chain.link(head, chain.event_content(SimpleNamespace(**{**vars(event), "actor": "x"})))
    assert first != chain.link(head, chain.event_content(event, {"digest": "00"}))
    assert chain.next_head(first) not in (first, head)
    assert chain.append(head, event) == chain.next_head(event.chain_hash) and event.chain_hash == first


def test_fresh_secrets_are_made_once_and_kept(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir()
    (folder / "keys.json").write_text(json.dumps({"ID_HASH_KEY": "old", "ID_ENCRYPTION_KEY": "old-fernet"}))
    first = SimpleNamespace(config={}, instance_path=str(folder))
    _ensure_secrets(first)
    assert (first.config["ID_HASH_KEY"], first.config["ID_ENCRYPTION_KEY"]) == ("old", "old-fernet")
    assert first.config["SIGNING_CA_KEY"].startswith("-----BEGIN PRIVATE KEY-----")
    again = SimpleNamespace(config={}, instance_path=str(folder))
    _ensure_secrets(again)
    assert again.config == first.config
    assert (folder / "keys.json").stat().st_mode & 0o777 == 0o600
