"""A thin CRUD viewset: parse with the serializer, write through a service, render."""
from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.response import Response

from contacts_project.serializers import service_data


class ServiceViewSet(viewsets.GenericViewSet):
    """Subclasses set `create_service`, `update_service` and `delete_service` (callables taking keywords)
    and `lookup_kwarg`, the keyword under which the services take the object's id."""

    lookup_kwarg = "pk"
    create_service = update_service = delete_service = None

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = type(self).create_service(data=service_data(serializer), actor=request.user)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        obj = type(self).update_service(**{self.lookup_kwarg: instance.pk}, data=service_data(serializer),
                                        actor=request.user)
        return Response(self.get_serializer(obj).data)

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        type(self).delete_service(**{self.lookup_kwarg: instance.pk}, actor=request.user, **self.delete_options())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def delete_options(self) -> dict:
        return {}
