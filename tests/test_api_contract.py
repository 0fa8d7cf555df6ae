"""schemathesis against the generated OpenAPI document: no 5xx, and every response conforms to it.

Bounded and reproducible: a fixed number of examples per operation, derandomized (Hypothesis
derives its examples from the test, not from a random seed), with a fixed seed besides. The
operations are walked in the test (not with ``from_fixture``, which pytest 9 no longer supports),
each with its own Hypothesis run, so one failing operation names itself.

Every check runs but ``positive_data_acceptance``: a schema-valid request may still be refused
for what no schema can say (an unknown grid, a range that ends before it starts, a task form's
own rules, a stale cursor), with a 422 problem that the other checks do verify.
"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.api.keys import create_key, register_client

EXAMPLES = 30


def test_the_api_conforms_to_its_openapi_document(app, core, driver):
    with core.db.unit_of_work() as session:
        register_client(session, "fuzzer", ["intake", "read", "tasks", "reports"], actor="admin",
                        department="chengguan", rate_limit=100000)
        key = create_key(session, "fuzzer", actor="admin")
    number = driver.register()
    driver.dispatch(number, department="chengguan")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8, [op.label for op in operations]
    checked = []
    for operation in operations:
        @seed(20261102)
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call_and_validate(headers={"Authorization": f"Bearer {key}", "X-API-Key": key},
                                              excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500, (case.method, case.path, response.text)

        run()
        checked.append(operation.label)
    assert len(checked) == len(operations)
