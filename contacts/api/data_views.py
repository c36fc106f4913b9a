"""Data quality and privacy endpoints: duplicates, merges, imports, exports, GDPR access and erasure."""
from __future__ import annotations

import csv
import io

import orjson
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.db_router import on_replica, replica_reads
from contacts_project.errors import InvalidInput
from contacts_project.ids import parse_uuid
from contacts_project.pagination import KeysetCursorPagination
from contacts_project.parsers import StrictJSONParser
from contacts_project.serializers import StrictSerializer

from .. import duplicates, exports, merges, privacy, selectors
from ..data_models import DuplicateCandidate, DuplicateStatus, ImportJob, ImportRowError
from ..filters import ContactFilter
from ..imports import service as imports

PROBLEM = OpenApiResponse(description="Problem details (RFC 9457) naming each bad field.")
ANY = OpenApiTypes.OBJECT


def require(request, perm: str) -> None:
    """Staff access to personal data is permission-checked for reads too (the default only guards writes)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"This needs the permission {perm!r}.")


class DataView(APIView):
    pagination_class = None


# --------------------------------------------------------------------------- duplicates
def pair_to_dict(pair: DuplicateCandidate) -> dict:
    def side(contact):
        return {"id": str(contact.pk), "full_name": contact.full_name, "email": contact.email, "phone": contact.phone,
                "organization": str(contact.organization_id) if contact.organization_id else None}

    return {"id": str(pair.pk), "score": round(pair.score, 3), "reasons": pair.reasons, "status": pair.status,
            "contacts": [side(pair.contact_a), side(pair.contact_b)],
            "dismissed_at": pair.dismissed_at.isoformat() if pair.dismissed_at else None,
            "updated_at": pair.updated_at.isoformat()}


class DuplicateListView(APIView):
    ordering_fields_map = {"score": "score", "created_at": "created_at"}
    default_ordering = "-score"

    @extend_schema(summary="Review queue: candidate duplicate pairs with score and reasons",
                   parameters=[OpenApiParameter("status", str, enum=["open", "dismissed"]),
                               OpenApiParameter("cursor", str), OpenApiParameter("page_size", int),
                               OpenApiParameter("ordering", str)],
                   responses={200: ANY})
    @replica_reads
    def get(self, request):
        state = request.query_params.get("status", DuplicateStatus.OPEN)
        if state not in DuplicateStatus.values:
            raise InvalidInput.field("status", f"Choose one of {DuplicateStatus.values}.", "invalid_choice")
        queryset = selectors.duplicate_queue(user=request.user, status=state)
        paginator = KeysetCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([pair_to_dict(p) for p in page])


class DuplicateRefreshView(DataView):
    write_permission = "contacts.merge_contacts"

    @extend_schema(request=None, responses={202: ANY}, summary="Recompute the review queue now (Celery job)")
    def post(self, request):
        from ..tasks import duplicates_refresh_task

        duplicates_refresh_task.delay()
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


class DuplicateDismissView(DataView):
    write_permission = "contacts.merge_contacts"

    @extend_schema(request=None, responses={200: ANY, 404: PROBLEM},
                   summary="Not the same person: the pair leaves the queue and refreshes do not bring it back")
    def post(self, request, pair_id, action="dismiss"):
        selectors.check_duplicate_access(request.user, pair_id)
        if action == "dismiss":
            pair = duplicates.duplicate_dismiss(pair_id=pair_id, actor=request.user)
        else:
            pair = duplicates.duplicate_reopen(pair_id=pair_id, actor=request.user)
        pair = DuplicateCandidate.objects.select_related("contact_a", "contact_b").get(pk=pair.pk)
        return Response(pair_to_dict(pair))


class ContactDuplicatesView(DataView):
    @extend_schema(responses={200: ANY, 404: PROBLEM}, summary="Possible duplicates of this contact, best first")
    def get(self, request, contact_id):
        selectors.check_contact_access(request.user, contact_id)
        candidates = duplicates.candidates_for_contact(contact_id=contact_id)
        seen = selectors.visible_contact_ids(request.user, [c["id"] for c in candidates])
        return Response({"results": [c for c in candidates if c["id"] in seen]})


# --------------------------------------------------------------------------- merges
class MergeSerializer(StrictSerializer):
    other = serializers.CharField(help_text="Id of the contact merged into this one (it is deleted).")
    fields = serializers.DictField(child=serializers.CharField(), required=False,
                                   help_text='field → "survivor" | "other"; unnamed fields keep the survivor\'s '
                                             "value unless it is empty.")


class MergeView(DataView):
    write_permission = "contacts.merge_contacts"

    @extend_schema(request=MergeSerializer, responses={200: ANY, 400: PROBLEM, 404: PROBLEM},
                   summary="Merge another contact into this one (undoable for MERGE_UNDO_DAYS)")
    def post(self, request, contact_id):
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        selectors.check_contact_access(request.user, contact_id, write=True)
        if parse_uuid(serializer.validated_data["other"]) is not None:  # a malformed id is the service's 400
            selectors.check_contact_access(request.user, serializer.validated_data["other"], write=True)
        record = merges.contact_merge(survivor_id=contact_id, other_id=serializer.validated_data["other"],
                                      fields=serializer.validated_data.get("fields"), actor=request.user)
        return Response({"merge": merges.merge_to_dict(record),
                         "contact": selectors.contact_to_dict(selectors.contact_get(contact_id=record.survivor_key))})


class MergeDetailView(DataView):
    @extend_schema(responses={200: ANY, 404: PROBLEM}, summary="A merge record")
    def get(self, request, merge_id):
        record = selectors.merge_record_get(merge_id=merge_id, user=request.user)
        return Response(merges.merge_to_dict(record))


class MergeUndoView(DataView):
    write_permission = "contacts.merge_contacts"

    @extend_schema(request=None, responses={200: ANY, 404: PROBLEM, 409: PROBLEM},
                   summary="Undo a merge (within MERGE_UNDO_DAYS; later is 409)")
    def post(self, request, merge_id):
        selectors.merge_record_get(merge_id=merge_id, user=request.user, write=True)
        record = merges.merge_undo(merge_id=merge_id, actor=request.user)
        return Response(merges.merge_to_dict(record))


# --------------------------------------------------------------------------- imports
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
        page = paginator.paginate_queryset(ImportJob.objects.all(), request, view=self)
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
        return Response(imports.job_to_dict(imports._job(job_id), request=request))


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
        job = imports._job(job_id)

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


# --------------------------------------------------------------------------- export
class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=csv|vcf|json` picks the export format here, not a DRF renderer (which would 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ContactExportView(DataView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(summary="Export contacts (any list filter) as CSV, vCard 4.0 or JSContact JSON, streamed",
                   parameters=[OpenApiParameter("format", str, enum=list(exports.FORMATS)),
                               *(OpenApiParameter(name, str, description=f.extra.get("help_text") or "A list filter.")
                                 for name, f in ContactFilter.base_filters.items())],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, "text/vcard"): OpenApiTypes.STR,
                              (200, "application/json"): OpenApiTypes.ANY, 400: PROBLEM, 403: PROBLEM})
    def get(self, request):
        require(request, "contacts.export_contacts")
        fmt = request.query_params.get("format", "csv")
        if fmt not in exports.FORMATS:
            raise InvalidInput.field("format", f"Choose one of {list(exports.FORMATS)}.", "invalid_choice")
        filterset = ContactFilter(request.query_params, queryset=selectors.contact_list(request.user))
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        privacy.log_access(action="bulk_export", contact_key=None, actor=request.user,
                           detail={"format": fmt, "filters": {k: v for k, v in request.query_params.items()
                                                              if k != "format"}})
        # streamed after the view returns: the queryset itself is pinned to a replica that may serve this user
        rows = on_replica(filterset.qs, request.user)
        response = StreamingHttpResponse(exports.STREAMS[fmt](rows), content_type=exports.FORMATS[fmt])
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="contacts-{stamp}.{exports.EXTENSIONS[fmt]}"'
        return response


# --------------------------------------------------------------------------- privacy
class EraseSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class HoldSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class PrivacyExportView(DataView):
    @extend_schema(summary="Everything held about this person (GDPR access), as JSON",
                   responses={200: ANY, 403: PROBLEM, 404: PROBLEM})
    def get(self, request, contact_id):
        require(request, "contacts.export_personal_data")
        selectors.check_contact_access(request.user, contact_id)
        data = privacy.personal_data_export(contact_id=contact_id, actor=request.user)
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="personal-data-{contact_id}.json"'
        return response


class PrivacyEraseView(DataView):
    write_permission = "contacts.erase_personal_data"

    @extend_schema(request=EraseSerializer, responses={200: ANY, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM},
                   summary="Erase this person's personal data (409 under legal hold)")
    def post(self, request, contact_id):
        require(request, "contacts.erase_personal_data")
        selectors.check_contact_access(request.user, contact_id, write=True)
        serializer = EraseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(privacy.contact_erase(contact_id=contact_id, actor=request.user,
                                              reason=serializer.validated_data.get("reason", "")))


class LegalHoldView(DataView):
    write_permission = "contacts.place_legal_hold"

    @extend_schema(request=HoldSerializer, responses={200: ANY, 404: PROBLEM},
                   summary="Place (POST) or lift (DELETE) a legal hold: no erasure, no retention purge")
    def post(self, request, contact_id):
        selectors.check_contact_access(request.user, contact_id, write=True)
        serializer = HoldSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hold = privacy.legal_hold_place(contact_id=contact_id, reason=serializer.validated_data["reason"],
                                        actor=request.user)
        return Response({"contact": str(hold.contact_id), "reason": hold.reason,
                         "placed_at": hold.placed_at.isoformat()})

    @extend_schema(request=None, responses={204: None, 404: PROBLEM})
    def delete(self, request, contact_id):
        selectors.check_contact_access(request.user, contact_id, write=True)
        privacy.legal_hold_lift(contact_id=contact_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
