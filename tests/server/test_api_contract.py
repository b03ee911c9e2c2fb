"""The real server's answers against its own OpenAPI document (schemathesis, bounded and seeded).

The schema is loaded from the running server's /openapi.json over loopback; every generated
request is sent three times, as a submitter, as an admin (a technician and more) and without a
token, so the calls each role may make, the 403s and the 401s are all checked against what the
document declares.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.server import ServerProcess, database_for
from tests.server.helpers import make_bundle, submit

# The long poll waits up to `wait` seconds (30 at most); a short cap keeps the run bounded and
# still exercises the waiting path.
MAX_WAIT_SECONDS = 0.2
EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class ContractServer:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tokens = {"submitter": server.token("submitter", site="north"), "admin": server.token("admin")}


@pytest.fixture(scope="module")
def contract_server(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[ContractServer]:
    # Rate limits off: whether a generated submission meets a 429 would depend on timing.
    server = ServerProcess(
        tmp_path_factory.mktemp("contract") / "data",
        extra_args=["--submit-rate", "0", "--note-rate", "0"],
        database=database_for(server_engine, request),
    )
    try:
        server.start()
        contract = ContractServer(server)
        # Some real data, so lists, stats and changes answer with content, not only empty pages.
        for seed in range(2):
            response = submit(server, contract.tokens["submitter"], make_bundle(seed, site="north", walk_up=True))
            assert response.status_code == 201, response.text
        yield contract
    finally:
        server.stop()


def _load_schema(url: str) -> Any:
    loaded = schemathesis.openapi.from_url(f"{url}/openapi.json", timeout=10)
    loaded.config.update(base_url=url)
    return loaded


def _short_long_poll(case: Any) -> None:
    if case.path != "/api/v1/changes" or not isinstance(case.query, dict) or "wait" not in case.query:
        return
    try:
        wait = float(case.query["wait"])
    except (TypeError, ValueError):
        return  # not a number: the server refuses it at once
    if math.isfinite(wait) and wait > MAX_WAIT_SECONDS:
        case.query["wait"] = MAX_WAIT_SECONDS


# schemathesis's pytest plugin (schema.parametrize / from_fixture) reads a pytest-internal node
# attribute that pytest 9 no longer has; Hypothesis driven directly over each operation's
# strategy runs the same generation and the same checks.
@pytest.mark.timeout(240)
def test_the_server_keeps_its_openapi_contract(contract_server: ContractServer) -> None:
    schema = _load_schema(contract_server.server.url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19  # every call of the API, not a schema that failed to load
    session = requests.Session()
    auth_variants = [
        {"Authorization": f"Bearer {contract_server.tokens['submitter']}"},
        {"Authorization": f"Bearer {contract_server.tokens['admin']}"},
        {},
    ]
    for operation in operations:
        # Valid requests and invalid ones (wrong types, out-of-range values, missing fields).
        cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,  # the same examples every run: a failure here is reproducible
            deadline=None,  # a loaded 2-core machine answers slowly at times; pytest's timeout bounds the run
            database=None,
            suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much],
        )
        @hypothesis.given(case=cases)
        def conforms(case: Any) -> None:
            _short_long_poll(case)
            for headers in auth_variants:
                case.call_and_validate(session=session, headers=headers, checks=CHECKS, timeout=30)

        conforms()
