"""API tokens: the login token (`POST auth/token/`, DRF's authtoken) and named tokens (`auth/tokens/`)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts_project.permissions import SIGNED_IN
from contacts_project.schema import PROBLEM
from contacts_project.throttling import TokenObtainThrottle

from .. import services
from ..models import ApiToken
from . import serializers as s


# --------------------------------------------------------------------------- the login token
class TokenView(ObtainAuthToken):
    """POST {"username", "password"} → {"token"}; send it as `Authorization: Token <token>`."""

    throttle_classes = [TokenObtainThrottle]

    @extend_schema(request=inline_serializer("TokenRequest", {"username": serializers.CharField(),
                                                               "password": serializers.CharField()}),
                   responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
                              400: PROBLEM},
                   auth=[], summary="Obtain an API token")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


# --------------------------------------------------------------------------- named tokens
def _token_dict(token) -> dict:
    return {"id": str(token.pk), "name": token.name, "prefix": token.prefix, "created_at": token.created_at,
            "last_used_at": token.last_used_at, "expires_at": token.expires_at}


class TokenListView(APIView):
    write_permission = SIGNED_IN  # one's own tokens
    @extend_schema(responses={200: s.TokenSerializer(many=True)}, summary="Your API tokens (prefix only)",
                   description="Named tokens, and the login token of POST /auth/token/ (id `login`) if you have one.")
    def get(self, request):
        from rest_framework.authtoken.models import Token

        tokens = [_token_dict(t) for t in ApiToken.objects.filter(user=request.user).order_by("created_at", "id")]
        login = Token.objects.filter(user=request.user).first()
        if login is not None:
            tokens.insert(0, {"id": "login", "name": "login", "prefix": login.key[:8], "created_at": login.created,
                              "last_used_at": None, "expires_at": None})
        return Response(s.TokenSerializer(tokens, many=True).data)

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.TokenCreatedSerializer, 400: PROBLEM},
                   summary="Create a named API token (the key is shown once)")
    def post(self, request):
        serializer = s.TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.token_create(user=request.user, actor=request.user, **serializer.validated_data)
        return Response(s.TokenCreatedSerializer({**_token_dict(token), "key": key}).data,
                        status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    write_permission = SIGNED_IN  # one's own tokens
    @extend_schema(responses={204: None, 404: PROBLEM}, summary="Revoke one of your tokens")
    def delete(self, request, token_id):
        services.token_revoke(user=request.user, token_id=token_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
