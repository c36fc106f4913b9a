"""OpenAPI post-processing: every operation documents the errors it can really return, in the one
problem-details format (so clients and the schemathesis fuzz test can rely on the documented statuses)."""
from __future__ import annotations

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {"field": {"type": "string"}, "code": {"type": "string"},
                               "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Invalid input; `errors` names each bad field.",
    "401": "No or invalid credentials.",
    "403": "Not allowed.",
    "404": "Not found (also for objects the caller may not see).",
    "409": "Conflict with the object's state.",
    "413": "Request body too large.",
    "415": "Unsupported media type.",
    "422": "Idempotency-Key reused with a different body.",
    "429": "Throttled; see Retry-After.",
}


def _problem_response(status: str) -> dict:
    return {"description": DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def add_error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOK."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            statuses = {"400", "429"}
            if operation.get("security") != [{}] and operation.get("security") != []:
                statuses |= {"401", "403"}
            if "{" in path:
                statuses.add("404")
            if method in ("post", "put", "patch"):
                statuses |= {"413", "415"}
            if method == "post":
                statuses |= {"409", "422"}  # Idempotency-Key in progress / reused with another body
            for status in sorted(statuses):
                existing = responses.get(status)
                if existing is None or not existing.get("content"):
                    responses[status] = _problem_response(status)
            for status, response in list(responses.items()):
                if status.startswith("4") and not response.get("content"):
                    description = response.get("description") or DESCRIPTIONS.get(status, "Error")
                    responses[status] = {**_problem_response(status), "description": description} \
                        if status in DESCRIPTIONS else {"description": description, "content": {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return result
