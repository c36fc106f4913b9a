"""The `q` contact query language: AND / OR / NOT over field conditions, compiled to one Django Q.

    status:active AND (tag:vip OR category:partners) AND NOT type:vendor
    created_at>=2026-01-01 owner:me custom.tier:gold "van der Berg"

Grammar (keywords are case-insensitive; adjacent terms are joined with AND):

    query      := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := unary (["AND"] unary)*
    unary      := "NOT" unary | "-" unary | primary
    primary    := "(" or_expr ")" | condition | text
    condition  := FIELD OP value          OP: ':' '=' '!=' '>' '>=' '<' '<='
    value      := WORD | "quoted \\"text\\"" | v1,v2,...   (a comma list means any of them)
    text       := WORD | "quoted"         (free text: the same as `search`)

Everything compiles to SQL (never Python-side filtering). Errors are 400s on the field `q` whose message
names the position (1-based character offset) of the offending token; see docs/organization.md.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from contacts_project.errors import FieldError, InvalidInput
from contacts_project.ids import parse_uuid
from organization.models import ContactType
from organization.trees import categories_named, category_subtree_ids, organization_subtree_ids, organizations_named

from .choices import ContactStatus, Priority
from .models import ContactCategory, ContactGroup, GroupMembership
from .search import search_q
from .validation import normalize_phone

MAX_LENGTH = 4000
MAX_CONDITIONS = 64
MAX_NESTING = 20
KEYWORDS = {"AND", "OR", "NOT"}


class QuerySyntaxError(InvalidInput):
    """A 400 on the field `q` that says where: `position` is the 1-based offset of the offending token."""

    def __init__(self, message: str, position: int, token: str = "", code: str = "invalid_query"):
        text = f"{message} (at position {position})"
        super().__init__(text, errors=[FieldError("q", code, text)],
                         extra={"position": position, "token": token})
        self.position = position


# --------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Token:
    kind: str  # LPAREN RPAREN AND OR NOT COND TEXT
    pos: int  # 1-based
    raw: str
    field: str = ""
    op: str = ""
    value: str = ""
    quoted: bool = False


FIELD_OP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)(!=|>=|<=|:|=|>|<)")


def _read_value(text: str, i: int, start: int) -> tuple[str, int, bool]:
    """A quoted or bare value starting at i; returns (value, next index, quoted)."""
    if i < len(text) and text[i] == '"':
        out, j = [], i + 1
        while j < len(text):
            ch = text[j]
            if ch == "\\" and j + 1 < len(text):
                out.append(text[j + 1])
                j += 2
                continue
            if ch == '"':
                return "".join(out), j + 1, True
            out.append(ch)
            j += 1
        raise QuerySyntaxError("Unterminated quoted value", i + 1, text[i:i + 20], "unterminated_quote")
    j = i
    while j < len(text) and not text[j].isspace() and text[j] not in "()":
        if text[j] == '"':
            raise QuerySyntaxError("Unexpected quote inside a value; quote the whole value", j + 1, text[start:j + 1])
        j += 1
    return text[i:j], j, False


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            tokens.append(Token("LPAREN", i + 1, ch))
            i += 1
        elif ch == ")":
            tokens.append(Token("RPAREN", i + 1, ch))
            i += 1
        elif ch == "-" and i + 1 < len(text) and not text[i + 1].isspace() and (
                not tokens or tokens[-1].kind in ("LPAREN", "AND", "OR", "NOT") or text[i - 1].isspace()):
            tokens.append(Token("NOT", i + 1, ch))
            i += 1
        else:
            match = FIELD_OP.match(text, i)
            if match:
                value_start = match.end()
                if value_start >= len(text) or text[value_start].isspace() or text[value_start] == ")":
                    raise QuerySyntaxError(f"Missing value after {match.group(0)!r}", value_start + 1,
                                           match.group(0), "missing_value")
                value, j, quoted = _read_value(text, value_start, i)
                tokens.append(Token("COND", i + 1, text[i:j], match.group(1).lower(), match.group(2), value, quoted))
                i = j
                continue
            value, j, quoted = _read_value(text, i, i)
            upper = value.upper()
            if not quoted and upper in KEYWORDS:
                tokens.append(Token(upper, i + 1, value))
            else:
                tokens.append(Token("TEXT", i + 1, text[i:j], value=value, quoted=quoted))
            i = j
    return tokens


# --------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, tokens: list[Token], compiler: _Compiler, length: int):
        self.tokens, self.i, self.compiler, self.length = tokens, 0, compiler, length
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def end_pos(self) -> int:
        return self.length + 1

    def parse(self) -> Q:
        if not self.tokens:
            raise QuerySyntaxError("Empty query", 1, "", "empty")
        result = self.or_expr()
        token = self.peek()
        if token is not None:
            if token.kind == "RPAREN":
                raise QuerySyntaxError("Unmatched ')'", token.pos, token.raw, "unbalanced")
            raise QuerySyntaxError(f"Unexpected {token.raw!r}", token.pos, token.raw, "unexpected_token")
        return result

    def or_expr(self) -> Q:
        result = self.and_expr()
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            result = result | self.and_expr(after=token)
        return result

    def and_expr(self, after: Token | None = None) -> Q:
        result = self.unary(after)
        while (token := self.peek()) is not None and token.kind in ("AND", "NOT", "LPAREN", "COND", "TEXT"):
            if token.kind == "AND":
                self.take()
                result = result & self.unary(after=token)
            else:
                result = result & self.unary()
        return result

    def unary(self, after: Token | None = None) -> Q:
        token = self.peek()
        if token is None:
            where = f" after {after.raw!r}" if after is not None else ""
            raise QuerySyntaxError(f"Expected a condition{where}, found the end of the query", self.end_pos(),
                                   "", "unexpected_end")
        if token.kind == "NOT":
            self.take()
            return ~self.unary(after=token)
        return self.primary(after)

    def primary(self, after: Token | None) -> Q:
        token = self.take()
        if token.kind == "LPAREN":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise QuerySyntaxError(f"Nesting deeper than {MAX_NESTING} parentheses", token.pos, "(", "too_deep")
            if (nxt := self.peek()) is not None and nxt.kind == "RPAREN":
                raise QuerySyntaxError("Empty parentheses", nxt.pos, "()", "unexpected_token")
            inner = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != "RPAREN":
                raise QuerySyntaxError("Missing ')' for the '(' opened here", token.pos, "(", "unbalanced")
            self.take()
            self.depth -= 1
            return inner
        if token.kind == "COND":
            return self.compiler.condition(token)
        if token.kind == "TEXT":
            return self.compiler.text(token)
        if token.kind == "RPAREN":
            raise QuerySyntaxError("Unmatched ')'", token.pos, token.raw, "unbalanced")
        where = f" after {after.raw!r}" if after is not None else ""
        raise QuerySyntaxError(f"Expected a condition{where}, found {token.raw!r}", token.pos, token.raw,
                               "unexpected_token")


# --------------------------------------------------------------------------- fields
TEXT_FIELDS = {"first_name", "last_name", "job_title", "timezone", "locale"}
DATE_FIELDS = {"created_at", "updated_at", "last_contacted_at", "last_engaged_at", "status_changed_at"}
NULLABLE_DATES = {"last_contacted_at", "last_engaged_at", "status_changed_at"}
HAS = {
    "email": ~Q(email=""), "phone": ~Q(phone=""), "organization": Q(organization_id__isnull=False),
    "owner": Q(owner_id__isnull=False), "team": Q(team_id__isnull=False), "type": Q(type_id__isnull=False),
    "reports_to": Q(reports_to_id__isnull=False), "tags": ~Q(tags=[]),
    "last_contacted_at": Q(last_contacted_at__isnull=False), "custom_fields": ~Q(custom_fields={}),
    "categories": Q(Exists(ContactCategory.objects.filter(contact_id=OuterRef("pk")))),
    "groups": Q(Exists(GroupMembership.objects.filter(contact_id=OuterRef("pk")))),
}
FIELDS = sorted(TEXT_FIELDS | DATE_FIELDS | {
    "id", "email", "phone", "status", "type", "priority", "owner", "team", "organization", "organization_tree",
    "category", "category_exact", "tag", "group", "reports_to", "engagement_score", "search", "has", "custom.<key>",
})
ALIASES = {"org": "organization", "org_tree": "organization_tree", "tags": "tag", "categories": "category",
           "created": "created_at", "updated": "updated_at", "last_contacted": "last_contacted_at"}
COMPARISONS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
CUSTOM_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NONE_VALUES = {"none", "null"}


class _Compiler:
    """Turns one condition into a Q. Lookups of names (categories, organizations, groups) are one query each."""

    def __init__(self, user=None):
        self.user = user
        self.count = 0

    def _error(self, token: Token, message: str, code: str = "invalid_value"):
        raise QuerySyntaxError(message, token.pos, token.raw, code)

    def _values(self, token: Token) -> list[str]:
        if token.quoted:
            return [token.value]
        values = [v for v in token.value.split(",")]
        if any(v == "" for v in values):
            self._error(token, f"Empty item in the list {token.value!r}")
        return values

    def _eq_only(self, token: Token, field: str):
        if token.op not in (":", "=", "!="):
            self._error(token, f"{field} supports ':' and '!=' only, not {token.op!r}", "invalid_operator")

    def _apply_op(self, token: Token, condition: Q) -> Q:
        return ~condition if token.op == "!=" else condition

    def text(self, token: Token) -> Q:
        self._count(token)
        if not token.value.strip():
            self._error(token, "Empty search text")
        return search_q(token.value)

    def _count(self, token: Token) -> None:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            self._error(token, f"More than {MAX_CONDITIONS} conditions", "too_many_conditions")

    def condition(self, token: Token) -> Q:
        self._count(token)
        field = ALIASES.get(token.field, token.field)
        if field.startswith("custom."):
            return self._custom(token, field.removeprefix("custom."))
        handler = getattr(self, f"_f_{field}", None)
        if field in TEXT_FIELDS:
            return self._text_field(token, field)
        if field in DATE_FIELDS:
            return self._date(token, field)
        if handler is None:
            self._error(token, f"Unknown field {token.field!r}; fields are {', '.join(FIELDS)}", "unknown_field")
        return handler(token)

    # --- simple columns
    def _text_field(self, token: Token, field: str) -> Q:
        self._eq_only(token, field)
        condition = Q()
        for value in self._values(token):
            if value.lower() in NONE_VALUES and not token.quoted:
                condition |= Q(**{field: ""})
            elif value.endswith("*") and not token.quoted and len(value) > 1:
                condition |= Q(**{f"{field}__istartswith": value[:-1]})
            else:
                condition |= Q(**{f"{field}__iexact": value})
        return self._apply_op(token, condition)

    def _f_id(self, token: Token) -> Q:
        self._eq_only(token, "id")
        ids = [parse_uuid(v) for v in self._values(token)]
        if None in ids:
            self._error(token, "id takes contact ids (UUIDs)")
        return self._apply_op(token, Q(pk__in=ids))

    def _f_email(self, token: Token) -> Q:
        self._eq_only(token, "email")
        condition = Q()
        for value in self._values(token):
            if value.lower() in NONE_VALUES and not token.quoted:
                condition |= Q(email="")
            elif value.endswith("*") and not token.quoted and len(value) > 1:
                condition |= Q(email__istartswith=value[:-1])
            else:
                # rides the unique index on lower(email), which is partial (email <> '')
                condition |= Q(Exact(Lower("email"), value.lower())) & ~Q(email="")
        return self._apply_op(token, condition)

    def _f_phone(self, token: Token) -> Q:
        self._eq_only(token, "phone")
        condition = Q()
        for value in self._values(token):
            try:
                condition |= Q(phone=normalize_phone(value))
            except ValueError as exc:
                self._error(token, str(exc))
        return self._apply_op(token, condition)

    def _f_status(self, token: Token) -> Q:
        self._eq_only(token, "status")
        values = self._values(token)
        bad = [v for v in values if v not in ContactStatus.values]
        if bad:
            self._error(token, f"Unknown status {bad[0]!r}; choose from {ContactStatus.values}", "invalid_choice")
        return self._apply_op(token, Q(status__in=values))

    def _f_type(self, token: Token) -> Q:
        self._eq_only(token, "type")
        values = self._values(token)
        keys = [v for v in values if v.lower() not in NONE_VALUES]
        known = set(ContactType.objects.filter(pk__in=keys).values_list("pk", flat=True)) if keys else set()
        unknown = [k for k in keys if k not in known]
        if unknown:
            self._error(token, f"No contact type with key {unknown[0]!r}", "does_not_exist")
        condition = Q(type_id__in=keys) if keys else Q()
        if len(keys) < len(values):
            condition |= Q(type_id__isnull=True)
        return self._apply_op(token, condition)

    def _f_priority(self, token: Token) -> Q:
        names = {label.lower(): value for value, label in Priority.choices}

        def number(value: str) -> int:
            if value.lower() in names:
                return names[value.lower()]
            if value.isdigit() and int(value) in Priority.values:
                return int(value)
            self._error(token, f"Priority is one of {sorted(names)} or {Priority.values}", "invalid_choice")

        if token.op in COMPARISONS:
            return Q(**{f"priority__{COMPARISONS[token.op]}": number(token.value)})
        return self._apply_op(token, Q(priority__in=[number(v) for v in self._values(token)]))

    def _f_engagement_score(self, token: Token) -> Q:
        try:
            value = float(token.value)
        except ValueError:
            self._error(token, f"engagement_score takes a number, not {token.value!r}")
        if token.op in COMPARISONS:
            return Q(**{f"engagement_score__{COMPARISONS[token.op]}": value})
        return self._apply_op(token, Q(engagement_score=value))

    # --- references
    def _ids(self, token: Token, field: str, parse) -> tuple[list, bool]:
        ids, none = [], False
        for value in self._values(token):
            if value.lower() in NONE_VALUES and not token.quoted:
                none = True
                continue
            found = parse(value)
            if not found:
                self._error(token, f"No {field} matches {value!r}", "does_not_exist")
            ids.extend(found)
        return ids, none

    def _fk(self, token: Token, field: str, column: str, parse) -> Q:
        self._eq_only(token, field)
        ids, none = self._ids(token, field, parse)
        condition = Q(**{f"{column}__in": ids}) if ids else Q()
        if none:
            condition |= Q(**{f"{column}__isnull": True})
        return self._apply_op(token, condition)

    def _f_owner(self, token: Token) -> Q:
        def users(value: str) -> list:
            if value.lower() == "me":
                if self.user is None or not getattr(self.user, "pk", None):
                    self._error(token, "owner:me needs a signed-in user")
                return [self.user.pk]
            if value.isdigit():
                return list(get_user_model().objects.filter(pk=int(value)).values_list("pk", flat=True))
            return list(get_user_model().objects.filter(username=value).values_list("pk", flat=True))

        return self._fk(token, "owner", "owner_id", users)

    def _f_team(self, token: Token) -> Q:
        from accounts.models import Team

        def teams(value: str) -> list:
            key = parse_uuid(value)
            query = Team.objects.filter(pk=key) if key else Team.objects.filter(name__iexact=value)
            return list(query.values_list("pk", flat=True))

        return self._fk(token, "team", "team_id", teams)

    def _f_organization(self, token: Token) -> Q:
        return self._fk(token, "organization", "organization_id", organizations_named)

    def _f_organization_tree(self, token: Token) -> Q:
        return self._fk(token, "organization", "organization_id",
                        lambda v: organization_subtree_ids(organizations_named(v)))

    def _f_reports_to(self, token: Token) -> Q:
        from .models import Contact

        def contacts(value: str) -> list:
            key = parse_uuid(value)
            return list(Contact.objects.filter(pk=key).values_list("pk", flat=True)) if key else []

        return self._fk(token, "contact", "reports_to_id", contacts)

    def _category(self, token: Token, subtree: bool) -> Q:
        self._eq_only(token, "category")
        ids, none = self._ids(token, "category", categories_named)
        if subtree:
            ids = category_subtree_ids(ids)
        condition = Q(Exists(ContactCategory.objects.filter(contact_id=OuterRef("pk"), category_id__in=ids))) \
            if ids else Q()
        if none:
            condition |= ~Q(Exists(ContactCategory.objects.filter(contact_id=OuterRef("pk"))))
        return self._apply_op(token, condition)

    def _f_category(self, token: Token) -> Q:
        return self._category(token, subtree=True)

    def _f_category_exact(self, token: Token) -> Q:
        return self._category(token, subtree=False)

    def _f_group(self, token: Token) -> Q:
        def groups(value: str) -> list:
            key = parse_uuid(value)
            query = ContactGroup.objects.filter(pk=key) if key else ContactGroup.objects.filter(name__iexact=value)
            return list(query.values_list("pk", flat=True)[:1000])

        self._eq_only(token, "group")
        ids, none = self._ids(token, "group", groups)
        condition = Q(Exists(GroupMembership.objects.filter(contact_id=OuterRef("pk"), group_id__in=ids))) \
            if ids else Q()
        if none:
            condition |= ~Q(Exists(GroupMembership.objects.filter(contact_id=OuterRef("pk"))))
        return self._apply_op(token, condition)

    def _f_tag(self, token: Token) -> Q:
        self._eq_only(token, "tag")
        values = [v.strip().lower() for v in self._values(token)]
        if any(v in NONE_VALUES for v in values) and not token.quoted:
            return self._apply_op(token, Q(tags=[]))
        # GIN on tags: @> for one tag, && for any of several
        condition = Q(tags__contains=values) if len(values) == 1 else Q(tags__overlap=values)
        return self._apply_op(token, condition)

    def _f_search(self, token: Token) -> Q:
        self._eq_only(token, "search")
        if not token.value.strip():
            self._error(token, "Empty search text")
        return self._apply_op(token, search_q(token.value))

    def _f_has(self, token: Token) -> Q:
        self._eq_only(token, "has")
        condition = Q()
        for value in self._values(token):
            name = value.lower() if value.lower() in HAS else ALIASES.get(value.lower(), value.lower())
            if name not in HAS:
                self._error(token, f"has: takes one of {', '.join(sorted(HAS))}", "invalid_choice")
            condition |= HAS[name]
        return self._apply_op(token, condition)

    # --- dates
    def _moment(self, token: Token, value: str) -> tuple[dt.datetime, dt.datetime | None]:
        """(start, end of the day) for a date, (moment, None) for a datetime."""
        try:
            day = parse_date(value) if len(value) == 10 else None
        except ValueError:  # well-formed but impossible, e.g. 2026-13-01
            self._error(token, f"Invalid date {value!r}; use YYYY-MM-DD or an ISO 8601 date-time", "invalid_date")
        if day is not None:
            start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1)
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            self._error(token, f"Invalid date {value!r}; use YYYY-MM-DD or an ISO 8601 date-time", "invalid_date")
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=dt.UTC)
        return moment, None

    def _date(self, token: Token, field: str) -> Q:
        value = token.value
        if value.lower() in NONE_VALUES and not token.quoted:
            if field not in NULLABLE_DATES:
                self._error(token, f"{field} is never empty")
            self._eq_only(token, field)
            return self._apply_op(token, Q(**{f"{field}__isnull": True}))
        start, end = self._moment(token, value)
        if token.op in COMPARISONS:
            lookup = COMPARISONS[token.op]
            if end is not None and lookup in ("gt", "lte"):
                start = end  # > a day means after that whole day; <= a day includes it
                lookup = {"gt": "gte", "lte": "lt"}[lookup]
            return Q(**{f"{field}__{lookup}": start})
        condition = Q(**{f"{field}__gte": start, f"{field}__lt": end}) if end else Q(**{field: start})
        return self._apply_op(token, condition)

    # --- custom fields (JSONB): equality is containment, served by the jsonb_path_ops GIN index
    def _custom(self, token: Token, key: str) -> Q:
        if not CUSTOM_KEY.match(key):
            self._error(token, f"Invalid custom field key {key!r}", "invalid_key")
        if token.op in COMPARISONS:
            number = _number(token.value)
            operand = number if number is not None else token.value
            return Q(**{f"custom_fields__{key}__{COMPARISONS[token.op]}": operand})
        condition = Q()
        for value in self._values(token):
            condition |= custom_equals(key, value, quoted=token.quoted)
        return self._apply_op(token, condition)


def _number(value: str):
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return None


def custom_equals(key: str, value: str, *, quoted: bool = False) -> Q:
    """custom_fields @> {key: value}, also as a number or boolean when the text reads as one."""
    condition = Q(custom_fields__contains={key: value})
    if not quoted:
        number = _number(value)
        if number is not None:
            condition |= Q(custom_fields__contains={key: number})
        if value.lower() in ("true", "false"):
            condition |= Q(custom_fields__contains={key: value.lower() == "true"})
    return condition


def compile_query(text: str, *, user=None) -> Q:
    """The Q for a `q` expression; raises QuerySyntaxError (a 400 on `q` with the position)."""
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(f"The query is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1, "", "too_long")
    return _Parser(tokenize(text), _Compiler(user=user), len(text)).parse()
