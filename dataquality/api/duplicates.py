"""Duplicate endpoints: the review queue, its refresh, dismissing and reopening a pair, one contact's candidates."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.selectors import check_contact_access, visible_contact_ids
from contacts_project.db_router import replica_reads
from contacts_project.errors import InvalidInput
from contacts_project.pagination import KeysetCursorPagination

from .. import duplicates, selectors
from ..models import DuplicateCandidate, DuplicateStatus
from .base import ANY, PROBLEM, DataView


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
        check_contact_access(request.user, contact_id)
        candidates = duplicates.candidates_for_contact(contact_id=contact_id)
        seen = visible_contact_ids(request.user, [c["id"] for c in candidates])
        return Response({"results": [c for c in candidates if c["id"] in seen]})
