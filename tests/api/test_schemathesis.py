"""Schemathesis against the app's own OpenAPI, in process: generated requests to every operation, zero 5xx.

Requests go with an admin's bearer token (the widest permissions, so they reach the services) on the
seeded world; examples per operation are bounded and derandomised so the test is repeatable and runs
in seconds. Logout is left out (it would end the token the other operations use).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from api.app import create_app
from tests.api.conftest import FAST_HASHER, build_api

EXAMPLES = 15
SKIPPED = {("POST", "/auth/logout")}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[schemathesis.schemas.BaseSchema, str]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    world = build_api(tmp)
    api = next(world)
    token = api.token("admin")
    settings_ = api.state.settings
    world.close()  # the seeding app stops; the fuzzed app opens the same database
    app = create_app(settings_, hasher=FAST_HASHER)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield schema, token
    finally:
        shutdown_lifespans()


def test_the_openapi_documents_every_route_with_an_example(
    fuzzed: tuple[schemathesis.schemas.BaseSchema, str],
) -> None:
    schema, _ = fuzzed
    raw = schema.raw_schema
    assert {"/campaigns", "/calls/{call_id}/recording", "/qa/reviews/{review_id}/ack", "/audit/verify"} <= set(
        raw["paths"]
    )
    examples = [name for name, s in raw["components"]["schemas"].items() if "examples" in s]
    assert {"CampaignIn", "CampaignOut", "LoginIn", "ErrorBody", "ValidationOut"} <= set(examples)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(
    fuzzed: tuple[schemathesis.schemas.BaseSchema, str], mode: GenerationMode
) -> None:
    schema, token = fuzzed
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            try:
                response = case.call(headers={"Authorization": f"Bearer {token}"})
            except Exception as exc:  # the app raised through the test client: a server error
                failures.append(f"{case.method} {case.formatted_path} raised {type(exc).__name__}: {exc}")
                return
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        try:
            run()
        except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
            assert mode == GenerationMode.NEGATIVE
    assert failures == [], f"{len(failures)} server errors, first: {failures[:5]}"
