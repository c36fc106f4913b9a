"""Assertions on the one error format (RFC 9457 problem details with an `errors` list naming each field)."""
from __future__ import annotations


def assert_problem(response, status: int, field: str | None = None, code: str | None = None) -> dict:
    """The response is a problem document of `status`; if `field` is given, one error names it (with `code`)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"], body
    if field is not None:
        matching = [e for e in body.get("errors", []) if e["field"] == field]
        assert matching, f"no error names {field!r}: {body}"
        if code is not None:
            assert code in {e["code"] for e in matching}, body
        for error in matching:
            assert error["message"], body
    return body
