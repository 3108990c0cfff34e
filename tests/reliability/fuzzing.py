"""Schema fuzzing with schemathesis: generated requests against the app's own `/openapi.json`.

Shared by the short run in the test suite (`test_fuzz.py`) and the long one (`bench/fuzz.py`).
The app is called in-process (WSGI). Every API operation in the document (so every endpoint
merged later too) gets generated valid and invalid requests, each sent as one of the given
roles; a response fails when it is a server error, has a status or content type the document
does not list, a body that does not match its documented schema, or is the 422 a database's
refusal of a value turns into (`value_out_of_range`: a bound the request schema lacks). Path
parameters are drawn at random, and in a second pass point at real objects so that valid
requests reach the code behind the lookups.
"""

import re
import traceback
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class Report:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_operation: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        by_class = Counter(f"{s // 100}xx" for s in self.statuses.elements())
        return (f"{self.cases} cases over {len(self.by_operation)} operations, "
                f"statuses {dict(sorted(by_class.items()))}, {len(self.failures)} failure(s)")


def operations(app):
    """The API operations as schemathesis reads them from the app's `/openapi.json`."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()
            if result.ok().path.startswith("/api/")]


def known_parameters(path: str, ids: dict[str, object], codes: dict[str, str]) -> dict | None:
    """Real values for every parameter of `path`, or None when one is not known.

    `ids` maps a parameter name (`prescription_id`) to a value; `codes` maps the resource a
    `{code}` follows (`pharmacies`, `drugs`, `trace`) to one.
    """
    values = {}
    for name in re.findall(r"{(\w+)}", path):
        if name in ids:
            values[name] = ids[name]
        else:
            resource = re.search(rf"/([\w-]+)/{{{name}}}", path)
            if resource is None or resource.group(1) not in codes:
                return None
            values[name] = codes[resource.group(1)]
    return values


def _exercise(operation, strategy, tokens, *, max_examples, seed, label, report):
    roles = sorted(tokens)

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.seed(seed)
    @hypothesis.given(case=strategy, role=st.sampled_from(roles))
    def exercise(case, role):
        report.cases += 1
        report.by_operation[operation.label] += 1
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        try:
            response = case.call(headers=headers)
        except Exception:  # noqa: BLE001 - an exception escaping the app is a failure
            report.failures.append(f"{role} {label} {operation.label} raised:\n{traceback.format_exc()[-1500:]}")
            return
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - schemathesis raises groups
            report.failures.append(f"{role} {label} {operation.label} -> {response.status_code}: {failure}")
            return
        if response.status_code == 422 and _code(response) == "value_out_of_range":
            # The database refused a value the request schema let through: a missing bound.
            report.failures.append(f"{role} {label} {operation.label} -> 422 value_out_of_range: "
                                   f"{str(case.body if case.body is not NOT_SET else case.query)[:300]}")

    exercise()


def _code(response) -> str | None:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def run(app, tokens: dict[str, str], *, max_examples: int, seed: int, known: dict | None = None,
        modes=MODES, report: Report | None = None) -> Report:
    """Fuzz every API operation; failures are collected in the report, not raised.

    `known` = {"ids": {...}, "codes": {...}} adds a valid-data pass on real objects.
    """
    report = report or Report()
    for operation in operations(app):
        for mode in modes:
            _exercise(operation, operation.as_strategy(generation_mode=mode), tokens,
                      max_examples=max_examples, seed=seed, label=mode.value, report=report)
        fixed = known and known_parameters(operation.path, known["ids"], known["codes"])
        if fixed:
            strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=fixed)
            _exercise(operation, strategy, tokens, max_examples=max_examples, seed=seed, label="known",
                      report=report)
    return report
