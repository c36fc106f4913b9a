"""The login token (DRF's authtoken) and its user in one SQL statement whose text is built once per process.

DRF's TokenAuthentication compiles `Token.objects.select_related("user").get(key=…)` on every request, and
the compile and select_related's model building cost more than the indexed read itself. This is the same
read (the same join, on every request), so a deleted (revoked) token or a deactivated user is refused at
once, exactly as before: only the SQL text is kept, never a token or a user.
"""
from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework import exceptions
from rest_framework.authtoken.models import Token


@cache
def _statement() -> tuple[str, list[str], list[str]]:
    user_model = get_user_model()
    quote = connection.ops.quote_name
    token_fields, user_fields = Token._meta.concrete_fields, user_model._meta.concrete_fields
    columns = [f"t.{quote(f.column)}" for f in token_fields] + [f"u.{quote(f.column)}" for f in user_fields]
    sql = (f"SELECT {', '.join(columns)} FROM {quote(Token._meta.db_table)} t "
           f"JOIN {quote(user_model._meta.db_table)} u ON u.{quote(user_model._meta.pk.column)} = "
           f"t.{quote(Token._meta.get_field('user').column)} WHERE t.{quote(Token._meta.pk.column)} = %s")
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


def login_token_credentials(key: str):
    """(user, token) for a login token, with DRF's two refusals (unknown token, inactive user)."""
    sql, token_names, user_names = _statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        raise exceptions.AuthenticationFailed("Invalid token.")
    token = Token.from_db(connection.alias, token_names, row[:len(token_names)])
    user = get_user_model().from_db(connection.alias, user_names, row[len(token_names):])
    Token._meta.get_field("user").set_cached_value(token, user)
    if not user.is_active:
        raise exceptions.AuthenticationFailed("User inactive or deleted.")
    return user, token
