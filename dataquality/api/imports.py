"""Import endpoints: upload (preview or job), jobs and their progress, commit, undo, the error report."""
from __future__ import annotations

import csv
import io

import orjson
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.errors import InvalidInput
from contacts_project.pagination import KeysetCursorPagination
from contacts_project.parsers import StrictJSONParser

from .. import duplicates, exports
from ..imports import service as imports
from ..models import ImportRowError
from .base import ANY, PROBLEM, DataView

UPLOAD_FIELDS = {"file", "mapping", "on_duplicate", "dry_run"}


def _bool(value, field: str) -> bool:
    if value in (None, "", False, "false", "0", "no", 0):
        return False
    if value in (True, "true", "1", "yes", 1):
        return True
    raise InvalidInput.field(field, "Expected true or false.")


def _mapping(value):
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise InvalidInput.field("mapping", "The mapping is a JSON object of column: field.")


class ImportListView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    write_permission = "contacts.import_contacts"
    ordering_fields_map = {"created_at": "created_at"}
    default_ordering = "-created_at"

    @extend_schema(summary="Import jobs, newest first", responses={200: ANY})
    def get(self, request):
        paginator = KeysetCursorPagination()
        page = paginator.paginate_queryset(imports.import_jobs_visible_to(request.user), request, view=self)
        return paginator.get_paginated_response([imports.job_to_dict(job, request=request, errors=False)
                                                 for job in page])

    @extend_schema(
        summary="Upload a CSV or vCard file to import (multipart: file, mapping, on_duplicate, dry_run)",
        description="dry_run=true stores the file and returns a preview (nothing written); commit it with "
                    "POST /contacts/imports/{id}/commit/. Otherwise the import is queued (202). The same file "
                    "uploaded again is not imported twice (200 with the earlier job).",
        request={"multipart/form-data": inline_serializer("ImportUpload", {
            "file": serializers.FileField(), "mapping": serializers.CharField(required=False),
            "on_duplicate": serializers.ChoiceField(duplicates.POLICIES, required=False),
            "dry_run": serializers.BooleanField(required=False)})},
        responses={200: ANY, 201: ANY, 202: ANY, 400: PROBLEM, 413: PROBLEM})
    def post(self, request):
        unknown = sorted(set(request.data) - UPLOAD_FIELDS)
        if unknown:
            raise InvalidInput.field(unknown[0], "Unknown field.", "unknown_field")
        job, preview, earlier = imports.import_create(
            upload=request.FILES.get("file"), mapping=_mapping(request.data.get("mapping")),
            on_duplicate=request.data.get("on_duplicate") or "skip",
            dry_run=_bool(request.data.get("dry_run"), "dry_run"), actor=request.user)
        body = imports.job_to_dict(job, request=request)
        if earlier is not None:
            body["duplicate_upload"] = True
            body["detail"] = "This file was imported before; nothing was imported again."
            return Response(body, status=status.HTTP_200_OK)
        if preview is not None:
            body["preview"] = preview
            return Response(body, status=status.HTTP_201_CREATED)
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(DataView):
    @extend_schema(summary="Import progress: rows done, created, updated, skipped, failed; first errors",
                   responses={200: ANY, 404: PROBLEM})
    def get(self, request, job_id):
        return Response(imports.job_to_dict(imports.import_get(job_id=job_id, user=request.user), request=request))


class ImportActionView(DataView):
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]
    write_permission = "contacts.import_contacts"

    @extend_schema(request=None, responses={202: ANY, 404: PROBLEM, 409: PROBLEM},
                   summary="commit: run a previewed import (optional mapping, on_duplicate); "
                           "undo: delete what the import created and restore what it updated")
    def post(self, request, job_id, action):
        if action == "commit":
            unknown = sorted(set(request.data) - {"mapping", "on_duplicate"})
            if unknown:
                raise InvalidInput.field(unknown[0], "Unknown field.", "unknown_field")
            job = imports.import_commit(job_id=job_id, mapping=_mapping(request.data.get("mapping")),
                                        on_duplicate=request.data.get("on_duplicate"), actor=request.user)
        else:
            job = imports.import_request_undo(job_id=job_id, actor=request.user)
        return Response(imports.job_to_dict(job, request=request), status=status.HTTP_202_ACCEPTED)


class ImportErrorReportView(DataView):
    @extend_schema(summary="Every row error of an import, as CSV", responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, job_id):
        job = imports.import_get(job_id=job_id, user=request.user)

        def rows():
            sink = io.StringIO()
            writer = csv.writer(sink)
            writer.writerow(["row", "field", "code", "message"])
            for error in ImportRowError.objects.filter(job=job).order_by("row", "id").values_list(
                    "row", "field", "code", "message").iterator(chunk_size=5000):
                writer.writerow([exports.neutralize(str(v)) for v in error])
                if sink.tell() > 65536:
                    yield sink.getvalue()
                    sink.seek(0)
                    sink.truncate()
            yield sink.getvalue()

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response
