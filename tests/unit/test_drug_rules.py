"""Which policy a newly registered drug takes (seed 003 一: 国谈药品（含同通用名仿制药和生物类似药）)."""

from dualchannel.drugs.rules import DEFAULT_POLICY, policy_of_new_drug

ORIGINAL = {"code": "ADA", "negotiated": True, "dual_channel": True, "separate_payment": True,
            "requires_eligibility": True, "storage": "cold_chain", "follows": None}
NOTHING_STATED = dict.fromkeys(DEFAULT_POLICY)


def test_a_copy_takes_what_it_does_not_state_from_its_original():
    values, follows = policy_of_new_drug(NOTHING_STATED, ORIGINAL)
    assert follows == "ADA"
    assert values == {"negotiated": True, "dual_channel": True, "separate_payment": True,
                      "requires_eligibility": True, "storage": "cold_chain"}


def test_what_the_bureau_states_wins():
    values, follows = policy_of_new_drug({**NOTHING_STATED, "dual_channel": False, "storage": "normal"}, ORIGINAL)
    assert (values["dual_channel"], values["storage"], values["negotiated"], follows) == (False, "normal", True, "ADA")
    values, follows = policy_of_new_drug({**NOTHING_STATED, "negotiated": False}, ORIGINAL)
    assert values["negotiated"] is False and follows is None


def test_without_an_original_the_defaults_apply():
    assert policy_of_new_drug(NOTHING_STATED, None) == (dict(DEFAULT_POLICY), None)
    values, follows = policy_of_new_drug({**NOTHING_STATED, "negotiated": True, "dual_channel": True}, None)
    assert (values["negotiated"], values["dual_channel"], values["storage"], follows) == (True, True, "normal", None)
