"""/openapi.json describes every route from the definitions the handlers validate with."""

from __future__ import annotations

import pytest
from security_support import client, config, service

from modelmon.service import api_schema, app, events
from modelmon.service.openapi import OPERATIONS, openapi_document


@pytest.fixture(scope="module")
def api():
    monitoring = service(config())
    yield client(monitoring)
    monitoring.close()


def test_every_route_of_the_app_is_in_the_document(api):
    document = api.get("/openapi.json").json()
    served = {(route.path, method.lower()) for route in api.app.routes for method in route.methods - {"HEAD"}}
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == described and len(described) == len(OPERATIONS)


def test_the_document_holds_the_schemas_the_handlers_check_with(api):
    document = api.get("/openapi.json").json()
    assert events._EVENT_CHECK.schema is api_schema.EVENT
    assert app._TARGET.schema is api_schema.TARGET
    assert document["components"]["schemas"]["Event"] == api_schema.EVENT
    batch = document["paths"]["/v1/models/{model}/events"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["anyOf"][1] == {"$ref": "#/components/schemas/Event"}
    history = document["paths"]["/v1/models/{model}/history"]["get"]["parameters"]
    assert {p["name"]: p["schema"] for p in history if p["in"] == "query"} == api_schema.HISTORY_QUERY


def test_a_limit_in_the_schema_is_the_limit_the_service_applies(api, monkeypatch):
    monkeypatch.setitem(api_schema.HISTORY_QUERY["limit"], "maximum", 7)
    assert api.get("/v1/models/m/history", params={"limit": "8"}).status_code == 400
    assert api.get("/v1/models/m/history", params={"limit": "7"}).status_code == 200
    assert (
        api.get("/openapi.json").json()["paths"]["/v1/models/{model}/history"]["get"]["parameters"][2][
            "schema"
        ]["maximum"]
        == 7
    )


def test_the_path_parameter_lists_the_models_of_this_service():
    document = openapi_document(["a", "b"], max_body_bytes=10)
    (model,) = [p for p in document["paths"]["/v1/models/{model}/summary"]["get"]["parameters"]]
    assert model["schema"]["enum"] == ["a", "b"]
    assert "at most 10 bytes" in document["paths"]["/iterate/{model}"]["post"]["requestBody"]["description"]
