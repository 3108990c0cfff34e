"""Rate limits (dualchannel/ratelimit.py): per account and per client address, for searches,
reveals and failed requests; 429 problem+json with Retry-After; counts in Redis (shared by
every process) when configured, in memory otherwise; settings checked at start.

Runs on the storage the suite was given: Redis when TEST_REDIS_URL answers (bin/test sets it),
memory otherwise; the tests that need Redis say so and are skipped without it."""

import pytest

from dualchannel import create_app, db
from tests.api.conftest import build_world
from tests.api.test_enumeration import SHIPPED_LIMITS, search
from tests.api.test_prescription_flow import problem
from tests.conftest import KEYS, As, make_app, rate_limit_prefix, token_maker
from tests.support import resident_id


def limited(response, budget):
    body = problem(response, 429)
    assert body["code"] == "rate_limited" and body["budget"] == budget
    assert int(response.headers["Retry-After"]) >= 1
    return body


@pytest.mark.app_config(**SHIPPED_LIMITS)
def test_an_account_that_keeps_failing_is_stopped_then_everything_it_asks_is_429(world):
    guesser, patient = world.ordinary_physician, world.patient["id"]
    for missing in range(100_000, 100_060):
        problem(guesser.get(f"/api/v1/patients/{missing}"), 404)
    limited(guesser.get(f"/api/v1/patients/{patient}"), "failures")  # even what it may read
    limited(guesser.get("/api/v1/drugs"), "failures")
    # Its colleague's account is counted on its own.
    assert world.physician.get(f"/api/v1/patients/{patient}").status_code == 200


@pytest.mark.app_config(**SHIPPED_LIMITS)
def test_a_busy_counter_stays_within_the_shipped_limits(world, issue):
    """A pharmacy verifies a queue of prescriptions, mistyping every fifth number once; the
    physician finds each patient of a morning's clinic. Nobody meets a 429."""
    for index in range(30):
        rx = issue().get_json()
        assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route",
                                    {"pharmacy_code": "P370811001"}).status_code == 200
        if index % 5 == 0:
            typo = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify",
                                       {"id_number": resident_id("370811", "19650305")})
            assert typo.status_code == 422
        verified = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify",
                                       {"id_number": world.patient_id_number})
        assert verified.status_code == 200, verified.get_json()
    for index in range(25):
        number = resident_id("370811", f"1960{index // 28 + 1:02d}{index % 28 + 1:02d}")
        assert world.admin.post("/api/v1/patients", {"id_number": number, "name": "患者", "insurance": "resident",
                                                     "region": "370800"}).status_code == 201
        assert search(world.physician, number, "患者").status_code == 200


@pytest.mark.app_config(RATELIMIT_REVEAL_PER_ACCOUNT="10/minute;100/day")
def test_reveals_have_a_budget_of_their_own(world):
    path = f"/api/v1/patients/{world.patient['id']}/reveal"
    for _ in range(10):
        assert world.bureau.post(path, {"reason": "稽核调查"}).status_code == 200
    limited(world.bureau.post(path, {"reason": "稽核调查"}), "reveal")
    assert world.admin.post(path, {"reason": "稽核调查"}).status_code == 200


@pytest.mark.app_config(RATELIMIT_FAILURES_PER_ADDRESS="5/minute")
def test_an_address_is_counted_over_its_accounts_and_unknown_tokens(client, world):
    for token in ("dc_wrong-1", "dc_wrong-2", "dc_wrong-3"):
        problem(As(client, token).get("/api/v1/drugs"), 401)
    problem(world.physician.get("/api/v1/patients/100000"), 404)
    problem(world.pharmacy.get("/api/v1/patients/100000"), 404)
    limited(world.admin.get("/api/v1/drugs"), "failures")
    elsewhere = client.get("/api/v1/drugs", headers={"Authorization": f"Bearer {world.admin.token}"},
                           environ_base={"REMOTE_ADDR": "10.8.0.7"})
    assert elsewhere.status_code == 200


@pytest.mark.parametrize("proxies, limited_after", [(0, 2), (1, None)])
def test_forwarded_addresses_count_only_behind_trusted_proxies(app_factory, proxies, limited_after):
    app = app_factory(TRUSTED_PROXIES=proxies, RATELIMIT_FAILURES_PER_ADDRESS="2/minute")
    client = app.test_client()
    statuses = [client.get("/api/v1/drugs", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
                for n in range(4)]
    assert statuses == ([401, 401, 429, 429] if limited_after == 2 else [401] * 4)


@pytest.mark.parametrize("setting, value", [
    ("RATELIMIT_SEARCH_PER_ACCOUNT", "lots"), ("RATELIMIT_FAILURES_PER_ADDRESS", ""),
    ("RATELIMIT_REVEAL_PER_ACCOUNT", 30), ("RATELIMIT_STORAGE_URL", "mongodb://127.0.0.1"),
    ("ID_ENUMERATION_MISSES", 0), ("ID_ENUMERATION_WINDOW_MINUTES", "60"), ("TRUSTED_PROXIES", -1)])
def test_settings_are_checked_at_start(database_url, tmp_path, setting, value):
    with pytest.raises(ValueError, match=f"DUALCHANNEL_{setting}"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, **KEYS, setting: value})


@pytest.fixture
def app_factory(database_url, tmp_path):
    """Apps on one database; each keeps its rate-limit counts apart unless given a prefix."""
    apps = []

    def make(**overrides):
        app = make_app(database_url, tmp_path / f"instance{len(apps)}", **overrides)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[db._ENGINE].dispose()


def test_processes_sharing_redis_share_the_counts(redis_url, app_factory):
    """Two apps, as two workers or hosts would be, counting in one Redis under one prefix."""
    shared = {"RATELIMIT_STORAGE_URL": redis_url, "RATELIMIT_KEY_PREFIX": rate_limit_prefix(),
              "RATELIMIT_SEARCH_PER_ACCOUNT": "3/minute"}
    first, second = app_factory(**shared), app_factory(**shared)
    client = first.test_client()
    world = build_world(lambda role, subject=None, pharmacist=None: As(client, token_maker(first)(role, subject, pharmacist)))
    other = As(second.test_client(), world.physician.token)
    statuses = [(world.physician if n % 2 else other).post(
        "/api/v1/patients/search", {"id_number": world.patient_id_number, "name": "张三"}).status_code
        for n in range(5)]
    # The world's own search counted too: 3 in the minute across both, then 429 on either.
    assert statuses == [200, 200, 429, 429, 429]


def test_redis_that_stops_answering_falls_back_to_memory(app_factory, world_on):
    app = app_factory(RATELIMIT_STORAGE_URL="redis://127.0.0.1:9/0", RATELIMIT_SEARCH_PER_ACCOUNT="2/minute")
    world = world_on(app)
    statuses = [search(world.physician, world.patient_id_number, "张三").status_code for _ in range(3)]
    assert statuses == [200, 429, 429]  # the world's search was the first


@pytest.fixture
def world_on():
    def build(app):
        client, token = app.test_client(), token_maker(app)
        return build_world(lambda role, subject=None, pharmacist=None: As(client, token(role, subject, pharmacist)))

    return build
