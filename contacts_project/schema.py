"""The project's OpenAPI AutoSchema (drf-spectacular)."""
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse


class AutoSchema(SpectacularAutoSchema):
    """Operation ids that stay unique: a GET on a collection path (one not ending in a path parameter) served
    by a plain APIView is `<path>_list`, not `<path>_retrieve`, so it cannot collide with the item's GET."""

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        if self.method == "GET" and operation_id.endswith("_retrieve") and not self.path.rstrip("/").endswith("}"):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id


# the response of an error status in `extend_schema(responses=…)`; contacts_project.openapi fills in its schema
PROBLEM = OpenApiResponse(description="Problem details (RFC 9457) naming each bad field.")
