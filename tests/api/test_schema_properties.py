"""Property tests over the OpenAPI document (schemathesis): for generated requests to every
operation, no 5xx; and on every route that answers errors with RFC 9457 problems, status codes,
content types, headers and bodies match the schema. Routers with a protocol of their own
(``OWN_ERROR_FORMAT_PREFIXES``, e.g. TAXII's application/taxii+json) get the no-5xx check.

The number of examples is bounded so the run takes about a minute over both databases.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from countersignal.api.app import OWN_ERROR_FORMAT_PREFIXES

EXAMPLES_PER_OPERATION = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]



def _served_schema() -> dict:
    """The document the server serves (same code); built here so tests can be generated at
    collection time. ``test_health.py`` checks it equals what the server returns."""
    from countersignal.api import create_app

    return create_app().openapi()


schema = schemathesis.openapi.from_dict(_served_schema())
OWN_FORMAT = "^(" + "|".join(OWN_ERROR_FORMAT_PREFIXES) + ")"


@pytest.mark.slow
@schema.exclude(path_regex=OWN_FORMAT).parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, server):
    token = server.demo_token  # every role: generated requests reach every code path
    case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )


@pytest.mark.slow
@schema.include(path_regex=OWN_FORMAT).parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_protocol_routers_never_fail_with_5xx(case, server):
    case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {server.demo_token}"},
        checks=[not_a_server_error],
    )
