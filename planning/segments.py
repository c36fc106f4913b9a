"""Segment rules: a JSON tree compiled to ONE SQL query over contacts.

A rule is either a group — `{"and": [...]}`, `{"or": [...]}`, `{"not": rule}` — or a leaf:

    {"field": "status", "op": "eq", "value": "active"}          contact fields, `custom.<key>` for custom fields
    {"category": "<id>", "descendants": true}                     filed under a category (or a subcategory)
    {"tag": "vip"}                                                has a tag
    {"group": "<id>"} / {"list": "<id>"}                          member of a group / static list
    {"organization": "<id>", "descendants": true}                 works at an organization (or its subsidiaries)
    {"segment": "<id>"}                                           member of another segment (cycles refused)
    {"event": "opened", "campaign": "<id>", "within_days": 7}     a communication event (sent, delivered, opened,
                                                                  clicked, replied, bounced), optionally for one
                                                                  campaign and/or in the last N days
    {"not_contacted_for_days": 30}                                no communication sent for N days (or never)

Operators: eq, neq, in, not_in, contains, icontains, startswith, gt, gte, lt, lte, is_null, between.
Every error names the path of the bad rule, e.g. `rules.and[1].value`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from communications.models import Communication
from contacts.models import Contact, ContactCategory, GroupMembership
from contacts.validation import contains_nul
from contacts_project.errors import FieldError, InvalidInput
from contacts_project.ids import parse_uuid

from .models import ListMembership, Segment

MAX_DEPTH = 12
MAX_RULES = 200

# contact field -> (ORM path, kind)
FIELDS: dict[str, tuple[str, str]] = {
    "first_name": ("first_name", "text"), "last_name": ("last_name", "text"), "email": ("email", "text"),
    "phone": ("phone", "text"), "status": ("status", "text"), "type": ("type_id", "text"),
    "job_title": ("job_title", "text"), "timezone": ("timezone", "text"), "locale": ("locale", "text"),
    "priority": ("priority", "int"), "owner": ("owner_id", "int"), "team": ("team_id", "uuid"),
    "organization_id": ("organization_id", "uuid"), "engagement_score": ("engagement_score", "float"),
    "created_at": ("created_at", "datetime"), "updated_at": ("updated_at", "datetime"),
    "last_contacted_at": ("last_contacted_at", "datetime"), "last_engaged_at": ("last_engaged_at", "datetime"),
    "status_changed_at": ("status_changed_at", "datetime"),
}
OPS = {"eq", "neq", "in", "not_in", "contains", "icontains", "startswith", "gt", "gte", "lt", "lte", "is_null",
       "between"}
TEXT_ONLY = {"contains", "icontains", "startswith"}
EVENTS = {"sent": ("sent_at", None), "delivered": ("status", "delivered"), "opened": ("opened_at", None),
          "clicked": ("clicked_at", None), "replied": ("status", "replied"), "bounced": ("status", "bounced")}
LEAF_KEYS = {"field", "category", "tag", "group", "list", "organization", "segment", "event",
             "not_contacted_for_days"}


class RuleError(InvalidInput):
    pass


def _fail(path: str, message: str, code: str = "invalid") -> RuleError:
    return RuleError(f"{path}: {message}", errors=[FieldError(path, code, message)])


def _coerce(kind: str, value: Any, path: str):
    try:
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            return value
        if kind == "uuid":
            parsed = parse_uuid(value)
            if parsed is None:
                raise ValueError
            return parsed
        if kind == "datetime":
            if not isinstance(value, str):
                raise ValueError
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (ValueError, TypeError):
        names = {"int": "a whole number", "float": "a number", "uuid": "an id", "datetime": "an ISO 8601 date-time",
                 "text": "text"}
        raise _fail(path, f"Expected {names[kind]}.", "invalid_type")


def _descendants_sql(table: str, start) -> RawSQL:
    """Ids of a node and all its descendants in a parent tree (one recursive CTE)."""
    return RawSQL(
        f"WITH RECURSIVE sub(id) AS (SELECT id FROM {table} WHERE id = %s "
        f"UNION SELECT t.id FROM {table} t JOIN sub ON t.parent_id = sub.id) SELECT id FROM sub",
        [start],
    )


class Compiler:
    """Compiles a rule tree to a Q over Contact. `seen` holds the segment ids on the current path (cycles)."""

    def __init__(self, *, seen: frozenset = frozenset(), now: dt.datetime | None = None):
        self.seen = seen
        self.count = 0
        self.now = now or timezone.now()
        self.leaves: list[tuple[str, dict, Q]] = []  # (path, rule, q) for explain

    def compile(self, rule: Any, path: str = "rules", depth: int = 0) -> Q:
        self.count += 1
        if self.count > MAX_RULES:
            raise _fail(path, f"At most {MAX_RULES} rules in a segment.", "too_many")
        if depth > MAX_DEPTH:
            raise _fail(path, f"Rules nest at most {MAX_DEPTH} deep.", "too_deep")
        if not isinstance(rule, dict) or not rule:
            raise _fail(path, "A rule is an object: a group (and/or/not) or a leaf.", "invalid")
        if "and" in rule or "or" in rule:
            key = "and" if "and" in rule else "or"
            if set(rule) != {key}:
                raise _fail(path, f"A group has only the key {key!r}.", "invalid")
            items = rule[key]
            if not isinstance(items, list) or not items:
                raise _fail(f"{path}.{key}", "Expected a non-empty list of rules.", "invalid")
            parts = [self.compile(item, f"{path}.{key}[{i}]", depth + 1) for i, item in enumerate(items)]
            combined = parts[0]
            for part in parts[1:]:
                combined = (combined & part) if key == "and" else (combined | part)
            return combined
        if "not" in rule:
            if set(rule) != {"not"}:
                raise _fail(path, "A negation has only the key 'not'.", "invalid")
            return ~self.compile(rule["not"], f"{path}.not", depth + 1)
        if contains_nul(rule):  # PostgreSQL text cannot hold U+0000: a 400 here, not a DataError from the query
            raise _fail(path, "Text in a rule cannot contain the NUL character.", "invalid")
        kinds = set(rule) & LEAF_KEYS
        if len(kinds) != 1:
            raise _fail(path, f"A leaf has exactly one of {sorted(LEAF_KEYS)}.", "invalid")
        kind = kinds.pop()
        q = getattr(self, f"_leaf_{kind}")(rule, path)
        self.leaves.append((path, rule, q))
        return q

    def _check_keys(self, rule: dict, allowed: set, path: str) -> None:
        unknown = set(rule) - allowed
        if unknown:
            raise _fail(path, f"Unknown keys {sorted(unknown)}.", "unknown_field")

    def _leaf_field(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"field", "op", "value"}, path)
        name, op = rule["field"], rule.get("op", "eq")
        if not isinstance(op, str) or op not in OPS:
            raise _fail(f"{path}.op", f"Unknown operator {op!r}; use one of {sorted(OPS)}.", "invalid_choice")
        if not isinstance(name, str):
            raise _fail(f"{path}.field", "Expected a field name.", "invalid_type")
        if name.startswith("custom."):
            key = name.removeprefix("custom.")
            if not key.replace("_", "").isalnum():
                raise _fail(f"{path}.field", "Custom field keys are letters, digits and _.", "invalid")
            orm, kind = f"custom_fields__{key}", "json"
        elif name in FIELDS:
            orm, kind = FIELDS[name]
        else:
            raise _fail(f"{path}.field", f"Unknown field {name!r}; use one of {sorted(FIELDS)} or custom.<key>.",
                        "unknown_field")
        if op in TEXT_ONLY and kind not in ("text", "json"):
            raise _fail(f"{path}.op", f"{op!r} applies to text fields.", "invalid_choice")
        value = rule.get("value")
        vpath = f"{path}.value"
        if op == "is_null":
            if not isinstance(value, bool):
                raise _fail(vpath, "Expected true or false.", "invalid_type")
            if kind == "text":
                return Q(**{orm: ""}) if value else ~Q(**{orm: ""})
            return Q(**{f"{orm}__isnull": value})
        if kind == "json":
            if op == "eq":
                return Q(custom_fields__contains={name.removeprefix("custom."): value})
            if op == "neq":
                return ~Q(custom_fields__contains={name.removeprefix("custom."): value})
            coerce = (lambda v, p: v)  # noqa: E731 - JSON values compare as given
        else:
            coerce = (lambda v, p: _coerce(kind, v, p))  # noqa: E731
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or len(value) > 1000:
                raise _fail(vpath, "Expected a list of 1 to 1,000 values.", "invalid_type")
            values = [coerce(v, f"{vpath}[{i}]") for i, v in enumerate(value)]
            q = Q(**{f"{orm}__in": values})
            return q if op == "in" else ~q
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise _fail(vpath, "Expected [low, high].", "invalid_type")
            low, high = coerce(value[0], f"{vpath}[0]"), coerce(value[1], f"{vpath}[1]")
            return Q(**{f"{orm}__gte": low, f"{orm}__lte": high})
        value = coerce(value, vpath)
        if op == "eq":
            return Q(**{orm: value})
        if op == "neq":
            return ~Q(**{orm: value})
        return Q(**{f"{orm}__{op}": value})

    def _leaf_category(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"category", "descendants"}, path)
        category = _coerce("uuid", rule["category"], f"{path}.category")
        if rule.get("descendants", True):
            ids = _descendants_sql("organization_category", category)
            return Q(Exists(ContactCategory.objects.filter(contact_id=OuterRef("pk"), category_id__in=ids)))
        return Q(Exists(ContactCategory.objects.filter(contact_id=OuterRef("pk"), category_id=category)))

    def _leaf_organization(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"organization", "descendants"}, path)
        org = _coerce("uuid", rule["organization"], f"{path}.organization")
        if rule.get("descendants", False):
            return Q(organization_id__in=_descendants_sql("organization_organization", org))
        return Q(organization_id=org)

    def _leaf_tag(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"tag"}, path)
        tag = _coerce("text", rule["tag"], f"{path}.tag").strip().lower()
        return Q(tags__contains=[tag])

    def _leaf_group(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"group"}, path)
        group = _coerce("uuid", rule["group"], f"{path}.group")
        return Q(Exists(GroupMembership.objects.filter(contact_id=OuterRef("pk"), group_id=group)))

    def _leaf_list(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"list"}, path)
        list_id = _coerce("uuid", rule["list"], f"{path}.list")
        return Q(Exists(ListMembership.objects.filter(contact_id=OuterRef("pk"), contact_list_id=list_id)))

    def _leaf_segment(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"segment"}, path)
        segment_id = _coerce("uuid", rule["segment"], f"{path}.segment")
        if segment_id in self.seen:
            raise _fail(f"{path}.segment", "Segments may not include themselves, directly or through others.",
                        "cycle")
        inner = Segment.objects.filter(pk=segment_id).values_list("rules", flat=True).first()
        if inner is None:
            raise _fail(f"{path}.segment", f"No segment with id {rule['segment']!r}.", "does_not_exist")
        nested = Compiler(seen=self.seen | {segment_id}, now=self.now)
        nested.count = self.count
        q = nested.compile(inner, f"{path}.segment({segment_id})")
        self.count = nested.count
        return q

    def _leaf_event(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"event", "campaign", "within_days"}, path)
        event = rule["event"]
        if not isinstance(event, str) or event not in EVENTS:
            raise _fail(f"{path}.event", f"Unknown event {event!r}; use one of {sorted(EVENTS)}.", "invalid_choice")
        comms = Communication.objects.filter(contact_id=OuterRef("pk"))
        if rule.get("campaign") is not None:
            comms = comms.filter(campaign_id=_coerce("uuid", rule["campaign"], f"{path}.campaign"))
        column, status = EVENTS[event]
        field_names = {f.name for f in Communication._meta.get_fields()}
        if status is not None or column not in field_names:
            statuses = {"opened": ["opened", "clicked", "replied"], "clicked": ["clicked", "replied"]}
            comms = comms.filter(status__in=statuses.get(event, [status or event]))
            column = "updated_at"
        else:
            comms = comms.filter(**{f"{column}__isnull": False})
        days = rule.get("within_days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
                raise _fail(f"{path}.within_days", "Expected a whole number of days from 1 to 3650.", "invalid_type")
            comms = comms.filter(**{f"{column}__gte": self.now - dt.timedelta(days=days)})
        return Q(Exists(comms))

    def _leaf_not_contacted_for_days(self, rule: dict, path: str) -> Q:
        self._check_keys(rule, {"not_contacted_for_days"}, path)
        days = rule["not_contacted_for_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
            raise _fail(f"{path}.not_contacted_for_days", "Expected a whole number of days from 1 to 3650.",
                        "invalid_type")
        return Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=self.now - dt.timedelta(days=days))


def compile_rules(rules: Any, *, segment_id=None) -> Q:
    seen = frozenset({segment_id}) if segment_id else frozenset()
    return Compiler(seen=seen).compile(rules)


def segment_queryset(rules: Any, *, segment_id=None):
    return Contact.objects.filter(compile_rules(rules, segment_id=segment_id))


def explain(rules: Any, contact_id, *, segment_id=None) -> dict:
    """Which leaves a contact meets or misses, and the overall result — evaluated in one query."""
    from django.db.models import BooleanField, ExpressionWrapper

    compiler = Compiler(seen=frozenset({segment_id}) if segment_id else frozenset())
    whole = compiler.compile(rules)
    annotations = {"r_all": ExpressionWrapper(whole, output_field=BooleanField())}
    for index, (_, _, q) in enumerate(compiler.leaves):
        annotations[f"r{index}"] = ExpressionWrapper(q, output_field=BooleanField())
    row = Contact.objects.filter(pk=contact_id).annotate(**annotations).values(*annotations).first()
    if row is None:
        return {}
    return {
        "matches": bool(row["r_all"]),
        "rules": [{"path": path, "rule": rule, "met": bool(row[f"r{index}"])}
                  for index, (path, rule, _) in enumerate(compiler.leaves)],
    }
