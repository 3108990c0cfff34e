"""Signed prescriptions and the pharmacist's review (issue 24): every prescription is signed at
issue; the pharmacy refuses one changed afterwards or signed with a key revoked by then; a
pharmacist reviews (审方) before anything is dispensed; keys live encrypted, certified by the CA."""

import json
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from dualchannel import clock, db
from dualchannel.signatures import crypto
from tests.api.conftest import pharmacist_of
from tests.api.test_prescription_flow import problem, ready_to_dispense
from tests.conftest import As, make_app, token_maker
from tests.support import review, trace_codes


def sql(app, statement, **params):
    """Write to the database behind the service's back, as someone with database access could."""
    with app.app_context(), db.engine().begin() as connection:
        return connection.execute(sa.text(statement), params)


def routed(world, issue, **kw):
    rx = issue(**kw).get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"}).status_code == 200
    return rx


def verified(world, issue, **kw):
    rx = routed(world, issue, **kw)
    answer = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": world.patient_id_number})
    assert answer.status_code == 200, answer.get_json()
    return rx


def signature(client, rx_id):
    answer = client.get(f"/api/v1/prescriptions/{rx_id}/signature")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def flags(world, kind):
    return world.bureau.get(f"/api/v1/flags?type={kind}").get_json()["items"]


def verify_cli(runner, *args):
    return runner.invoke(args=["signature", "verify", *map(str, args)])


# -- signed at issue ---------------------------------------------------------------------------

def test_a_prescription_is_signed_at_issue_over_its_canonical_content(world, issue):
    rx = issue("SAC", 2).get_json()
    assert re.fullmatch(r"[0-9a-f]{32}", rx["number"])
    body = signature(world.physician, rx["id"])
    assert body["verifies"] is True and body["problem"] is None
    assert body["algorithm"] == "SM2-with-SM3"
    assert body["key"]["holder"] == "physician:D370811001" and "PRIVATE" not in json.dumps(body)
    content = json.loads(body["signed_content"])
    assert content["number"] == rx["number"] and content["items"] == [
        {"drug_code": "SAC", "quantity": 2, "days_supply": 28, "dosage": "每日两次，每次1片"}]
    assert content["physician_code"] == "D370811001" and content["institution_code"] == "H370811001"
    # The patient is their id and keyed ID hash, never the number itself.
    assert content["patient"]["id"] == world.patient["id"] and re.fullmatch(r"[0-9a-f]{64}", content["patient"]["id_hash"])
    assert world.patient_id_number not in body["signed_content"]
    assert world.patient["id_number_masked"] not in body["signed_content"]
    # The canonical form: sorted keys, no spaces, UTF-8 unescaped (RFC 8785 for these values).
    assert body["signed_content"] == crypto.canonical(content).decode()
    assert body["digest"] == crypto.sm3(body["signed_content"].encode()).hex()
    # Anyone verifies it with the public key alone, the key with the CA's.
    public = crypto.public_der_from_pem(body["key"]["public_key"])
    assert crypto.verifies(public, crypto.unb64(body["signature"]), body["signed_content"].encode())
    ca = crypto.public_der_from_pem(body["ca_public_key"])
    certificate = {"format": "dualchannel.certificate/1", "issuer": "dualchannel", "algorithm": "SM2-with-SM3",
                   "holder": "physician:D370811001", "public_key": crypto.b64(public),
                   "valid_from": crypto.instant(datetime.fromisoformat(body["key"]["valid_from"])),
                   "valid_until": crypto.instant(datetime.fromisoformat(body["key"]["valid_until"]))}
    assert crypto.verifies(ca, crypto.unb64(body["key"]["certificate"]), crypto.canonical(certificate))


def test_the_private_key_is_stored_encrypted_and_never_shown(app, world, issue):
    issue()
    stored = sql(app, "SELECT private_key_encrypted, public_key FROM signing_key").all()
    assert len(stored) == 1
    encrypted, public = stored[0]
    assert encrypted.startswith("gAAAAA") and "PRIVATE" not in encrypted  # a Fernet token
    keys = world.admin.get("/api/v1/signing-keys").get_json()["items"]
    assert [k["holder"] for k in keys] == ["physician:D370811001"]
    assert set(keys[0]) >= {"public_key", "fingerprint", "certificate", "valid_from", "valid_until"}
    assert not any("private" in name for name in keys[0])
    assert encrypted not in json.dumps(keys)


# -- the pharmacy verifies before it acts --------------------------------------------------------

def test_a_prescription_changed_after_issue_is_refused_at_verify_and_named(app, world, issue, runner):
    rx = routed(world, issue, drug_code="SAC", quantity=2)
    untouched = routed(world, issue)
    sql(app, "UPDATE prescription_item SET quantity = 20 WHERE prescription_id = :id", id=rx["id"])
    refused = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify",
                                          {"id_number": world.patient_id_number}), 409)
    assert (refused["code"], refused["reason"]) == ("signature_invalid", "content_changed")
    assert world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["status"] == "routed"
    raised = flags(world, "signature_invalid")
    assert [(f["subject"], f["evidence"]["problem"], f["evidence"]["step"]) for f in raised] == [
        (f"prescription:{rx['id']}", "content_changed", "verify")]
    assert signature(world.bureau, rx["id"])["verifies"] is False

    result = verify_cli(runner)
    assert result.exit_code == 1
    assert f"prescription {rx['id']} ({rx['number']}): signature INVALID: its content no longer matches" in result.output
    assert f"prescription {untouched['id']} " not in result.output
    assert "2 prescription(s) checked, 1 with a signature that does not verify." in result.output
    named = verify_cli(runner, untouched["id"])
    assert named.exit_code == 0 and "signature verifies" in named.output


@pytest.mark.parametrize("change", [
    "UPDATE prescription SET diagnosis = '肺癌' WHERE id = :id",
    "UPDATE prescription SET valid_until = valid_until WHERE id = :id AND 1 = 0",  # nothing: still verifies
    "UPDATE patient SET name = '李四' WHERE id = (SELECT patient_id FROM prescription WHERE id = :id)",
    "UPDATE prescription_item SET dosage = '每日三次' WHERE prescription_id = :id",
    "UPDATE prescription SET signature = NULL WHERE id = :id",
], ids=["diagnosis", "nothing", "patient", "dosage", "signature-removed"])
def test_a_reviewed_prescription_changed_before_dispensing_is_refused(app, world, issue, change):
    rx = ready_to_dispense(world, issue, quantity=1)
    sql(app, change, id=rx["id"])
    answer = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                 {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]})
    if "1 = 0" in change:
        assert answer.status_code == 200
        return
    body = problem(answer, 409)
    assert body["code"] == "signature_invalid"
    assert body["reason"] == ("unsigned" if "NULL" in change else "content_changed")
    assert world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()["SAC"] == 50
    assert [f["evidence"]["step"] for f in flags(world, "signature_invalid")] == ["dispense"]


def test_a_key_written_into_the_database_is_not_trusted(app, world, issue):
    """Someone with database access re-signs a changed prescription with a key of their own: no
    CA certified that key, so the counter refuses it."""
    rx = routed(world, issue)
    content = json.loads(signature(world.physician, rx["id"])["signed_content"])
    content["items"][0]["quantity"] = 20
    forger = crypto.new_private_key()
    sql(app, "UPDATE prescription_item SET quantity = 20 WHERE prescription_id = :id", id=rx["id"])
    sql(app, "UPDATE signing_key SET public_key = :public", public=crypto.b64(crypto.public_der(forger)))
    sql(app, "UPDATE prescription SET signature = :signature WHERE id = :id", id=rx["id"],
        signature=crypto.b64(crypto.sign(forger, crypto.canonical(content))))
    body = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify",
                                       {"id_number": world.patient_id_number}), 409)
    assert body["reason"] == "certificate_invalid"


def test_a_signed_row_copied_under_another_id_cannot_be_stored(app, world, issue):
    rx = issue().get_json()
    with pytest.raises(sa.exc.IntegrityError):
        sql(app, "INSERT INTO prescription (patient_id, physician_code, institution_code, patient_region, diagnosis, "
                 "status, issued_at, valid_until, updated_at, number, signing_key_id, signature) "
                 "SELECT patient_id, physician_code, institution_code, patient_region, diagnosis, 'issued', issued_at, "
                 "valid_until, updated_at, number, signing_key_id, signature FROM prescription WHERE id = :id", id=rx["id"])


# -- revocation ------------------------------------------------------------------------------------

def test_a_revoked_key_refuses_later_signatures_and_keeps_earlier_ones(app, world, issue, runner):
    before = routed(world, issue)
    clock.travel(timedelta(minutes=30))
    compromised = clock.now()
    clock.travel(timedelta(minutes=30))
    after = routed(world, issue)  # signed with the key after its compromise, before anyone knew
    key = world.admin.get("/api/v1/signing-keys?physician_code=D370811001").get_json()["items"][0]
    revoked = world.bureau.post(f"/api/v1/signing-keys/{key['id']}/revoke",
                                {"reason": "证书介质丢失", "compromised_since": compromised.isoformat()})
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["revoked_by"] == "bureau:370800"
    problem(world.bureau.post(f"/api/v1/signing-keys/{key['id']}/revoke", {"reason": "再次"}), 409)

    ok = world.pharmacy.post(f"/api/v1/prescriptions/{before['id']}/verify", {"id_number": world.patient_id_number})
    assert ok.status_code == 200, ok.get_json()
    body = problem(world.pharmacy.post(f"/api/v1/prescriptions/{after['id']}/verify",
                                       {"id_number": world.patient_id_number}), 409)
    assert (body["code"], body["reason"]) == ("signature_invalid", "key_revoked")
    assert signature(world.physician, before["id"])["verifies"] is True
    result = verify_cli(runner, before["id"], after["id"])
    assert result.exit_code == 1
    assert f"prescription {before['id']} ({before['number']}): signature verifies" in result.output
    assert f"prescription {after['id']} ({after['number']}): signature INVALID: its signing key was revoked" in result.output

    # Without a valid key the physician cannot sign, until the bureau issues a new one.
    missing = problem(issue(), 409)
    assert missing["code"] == "signing_key_missing"
    assert world.bureau.post("/api/v1/signing-keys", {"physician_code": "D370811001"}).status_code == 201
    again = issue()
    assert again.status_code == 201
    assert signature(world.physician, again.get_json()["id"])["key"]["id"] != key["id"]


def test_revocation_in_the_future_or_without_reason_is_refused(world, issue):
    issue()
    key = world.admin.get("/api/v1/signing-keys").get_json()["items"][0]
    url = f"/api/v1/signing-keys/{key['id']}/revoke"
    later = (clock.now() + timedelta(hours=1)).isoformat()
    assert problem(world.admin.post(url, {"reason": "x", "compromised_since": later}), 422)["code"] == "revocation_in_future"
    problem(world.admin.post(url, {"reason": "  "}), 422)
    assert world.as_role("bureau", "370900").post(url, {"reason": "x"}).status_code == 404
    assert world.physician.post(url, {"reason": "x"}).status_code == 403


def test_keys_from_the_cli(app, world, issue, runner):
    issue()
    issued = runner.invoke(args=["keys", "issue", "--pharmacist", pharmacist_of("P370811001"), "--valid-days", "365"])
    assert issued.exit_code == 0, issued.output
    listed = runner.invoke(args=["keys", "list"])
    assert "physician:D370811001" in listed.output and f"pharmacist:{pharmacist_of('P370811001')}" in listed.output
    key_id = issued.output.split()[0]
    revoked = runner.invoke(args=["keys", "revoke", key_id, "--reason", "离职"])
    assert revoked.exit_code == 0 and "revoked from" in revoked.output
    assert runner.invoke(args=["keys", "issue", "--physician", "NOPE"]).exit_code != 0
    ca = runner.invoke(args=["keys", "ca"])
    assert ca.output.startswith("-----BEGIN PUBLIC KEY-----")


def test_signature_verify_with_another_ca_trusts_nothing(app, world, issue, runner, tmp_path):
    rx = issue().get_json()
    other = tmp_path / "other-ca.pem"
    other.write_text(crypto.public_pem(crypto.public_der(crypto.new_private_key())))
    result = runner.invoke(args=["signature", "verify", str(rx["id"]), "--ca", str(other)])
    assert result.exit_code == 1 and "not certified by the service's CA" in result.output
    pinned = tmp_path / "ca.pem"
    pinned.write_text(runner.invoke(args=["keys", "ca"]).output)
    assert runner.invoke(args=["signature", "verify", str(rx["id"]), "--ca", str(pinned)]).exit_code == 0
    assert verify_cli(runner, 999999).exit_code == 1


# -- the pharmacist's review (审方) -----------------------------------------------------------------

def test_dispensing_needs_an_approved_review(world, issue):
    rx = verified(world, issue)
    body = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                       {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}), 409)
    assert (body["code"], body["status_now"]) == ("review_required", "verified")
    actions = {a["action"]: a for a in world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["next_actions"]}
    assert actions["review"]["by"] == actions["refuse_review"]["by"] == "pharmacist"
    assert {"code": "dosage", "label": "用法、用量不适宜", "needs_note": False} in actions["refuse_review"]["reason_codes"]
    approved = review(world.pharmacy, rx["id"])
    assert approved.status_code == 200, approved.get_json()
    answer = approved.get_json()
    assert answer["status"] == "reviewed" and answer["review"]["outcome"] == "approved"
    assert answer["review"]["pharmacist"] == {"licence_number": "YSP370811001", "name": "001号药师"}
    dispensed = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                    {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]})
    assert dispensed.status_code == 200
    assert dispensed.get_json()["review"]["pharmacist"]["licence_number"] == "YSP370811001"


def test_a_review_status_set_in_the_database_does_not_dispense(app, world, issue):
    rx = verified(world, issue)
    sql(app, "UPDATE prescription SET status = 'reviewed' WHERE id = :id", id=rx["id"])
    body = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                       {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}), 409)
    assert body["code"] == "review_required"


def test_only_a_pharmacist_of_the_routed_pharmacy_reviews(world, issue, as_role):
    rx = verified(world, issue)
    clerk = as_role("pharmacy", "P370811001")  # the pharmacy's token, bound to no pharmacist
    assert problem(review(clerk, rx["id"]), 403)["code"] == "pharmacist_required"
    problem(review(world.other_pharmacy, rx["id"]), 404)
    problem(review(world.physician, rx["id"]), 403)
    assert world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["status"] == "verified"
    # A routed prescription not yet verified is not reviewed.
    fresh = routed(world, issue)
    assert problem(review(world.pharmacy, fresh["id"]), 409)["code"] == "invalid_transition"


def test_a_refusal_names_its_reason_and_goes_back_to_the_physician(world, issue):
    rx = verified(world, issue)
    url = f"/api/v1/prescriptions/{rx['id']}/review"
    assert problem(world.pharmacy.post(url, {"outcome": "refused"}), 422)["code"] == "reason_code_invalid"
    problem(world.pharmacy.post(url, {"outcome": "refused", "reason_code": "nonsense"}), 422)
    needs_note = problem(world.pharmacy.post(url, {"outcome": "refused", "reason_code": "other"}), 422)
    assert needs_note["code"] == "reason_code_invalid" and "note" in needs_note["errors"]
    assert problem(world.pharmacy.post(url, {"outcome": "approved", "reason_code": "dosage"}), 422)[
        "code"] == "reason_code_unexpected"
    refused = review(world.pharmacy, rx["id"], "refused", reason_code="dosage", note="剂量超过说明书推荐")
    assert refused.status_code == 200, refused.get_json()
    body = refused.get_json()
    assert (body["status"], body["pharmacy_code"], body["pickup"]) == ("issued", None, None)
    assert body["review"]["reason_code"] == "dosage" and body["review"]["reason_label"] == "用法、用量不适宜"
    assert body["history"][-1]["action"] == "refuse_review" and body["history"][-1]["reason"] == "剂量超过说明书推荐"
    problem(world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}"), 404)
    # The physician sees the refusal and may cancel; every review is signed by its pharmacist.
    seen = world.physician.get(f"/api/v1/prescriptions/{rx['id']}").get_json()
    assert seen["review"]["outcome"] == "refused" and {a["action"] for a in seen["next_actions"]} == {"route", "cancel"}
    reviews = signature(world.physician, rx["id"])["reviews"]
    assert [(r["outcome"], r["verifies"], r["key"]["holder"]) for r in reviews] == [
        ("refused", True, "pharmacist:YSP370811001")]


def test_a_changed_review_no_longer_verifies(app, world, issue, runner):
    rx = ready_to_dispense(world, issue)
    sql(app, "UPDATE prescription_event SET reason = '改动' WHERE prescription_id = :id AND action = 'review'", id=rx["id"])
    reviews = signature(world.bureau, rx["id"])["reviews"]
    assert [(r["verifies"], r["problem"]) for r in reviews] == [(False, "content_changed")]
    result = verify_cli(runner, rx["id"])
    assert result.exit_code == 1 and "review by YSP370811001 INVALID" in result.output


# -- keys and signatures survive a restart -----------------------------------------------------------

def test_keys_and_signatures_survive_a_restart(app, database_url, world, issue, tmp_path):
    rx = verified(world, issue)
    restarted = make_app(database_url, tmp_path / "instance-after-restart")
    try:
        client, token = restarted.test_client(), token_maker(restarted)
        pharmacist = As(client, token("pharmacy", "P370811001", pharmacist_of("P370811001")))
        assert signature(pharmacist, rx["id"])["verifies"] is True
        approved = review(pharmacist, rx["id"])  # the pharmacist's key, decrypted by the new process
        assert approved.status_code == 200, approved.get_json()
        dispensed = pharmacist.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                    {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]})
        assert dispensed.status_code == 200, dispensed.get_json()
        assert [r["verifies"] for r in signature(pharmacist, rx["id"])["reviews"]] == [True]
    finally:
        restarted.extensions[db._ENGINE].dispose()


def test_pharmacists_are_registered_by_the_bureau_and_listed(world):
    added = world.bureau.post("/api/v1/pharmacies/P370811001/pharmacists", {"licence_number": "YS0000000001",
                                                                            "name": "钱药师"})
    assert added.status_code == 201
    assert problem(world.bureau.post("/api/v1/pharmacies/P370811001/pharmacists",
                                     {"licence_number": "YS0000000001", "name": "又一位"}), 409)["code"] == "pharmacist_exists"
    problem(world.bureau.post("/api/v1/pharmacies/P370811001/pharmacists", {"licence_number": "YS 1\n", "name": "x"}), 422)
    listed = world.pharmacy.get("/api/v1/pharmacies/P370811001/pharmacists").get_json()["items"]
    assert [p["licence_number"] for p in listed] == ["YSP370811001", "YS0000000001"]
    me = world.pharmacy.get("/api/v1/me").get_json()
    assert me["pharmacist"]["licence_number"] == "YSP370811001"
