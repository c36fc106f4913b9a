"""A plain ModelViewSet over the contact table, with the one action the platform's status change maps to."""
from __future__ import annotations

import os

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import pagination, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .models import Contact


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        exclude = ["search_text"]
        read_only_fields = ["created_at", "updated_at", "status_changed_at"]


class NewestFirst(pagination.CursorPagination):
    ordering = "-created_at"
    page_size = 50


class ContactViewSet(viewsets.ModelViewSet):
    queryset = Contact.objects.defer("search_text")
    serializer_class = ContactSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        queryset = super().get_queryset()
        term = self.request.query_params.get("search", "").strip().lower()
        if term:  # served by the platform's trigram GIN index on search_text (names, email, phone)
            queryset = queryset.filter(search_text__contains=term)
        return queryset

    @action(detail=True, methods=["post"], url_path="status")
    def status_change(self, request, pk=None):
        contact = self.get_object()
        contact.status = request.data.get("status", contact.status)
        contact.status_changed_at = timezone.now()
        contact.save(update_fields=["status", "status_changed_at", "updated_at"])
        return Response(self.get_serializer(contact).data)


def health(request):
    return HttpResponse("ok")


class _Counter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class BenchHeadersMiddleware:
    """X-Query-Count and X-Worker-Pid, as the platform sends them to the benchmark."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = _Counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Query-Count"] = str(counter.count)
        response["X-Worker-Pid"] = str(os.getpid())
        return response
