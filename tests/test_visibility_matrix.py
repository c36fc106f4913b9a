"""The visibility matrix, generated from the URLconf: every API route × method, for seven callers against the
objects of the table in docs/collaboration.md. A route without an entry in ROUTES fails the test.

Callers: anonymous; a viewer and a member of the owning team (red); a member of another team (blue); users a
blue contact is shared with (read; edit); an admin. Objects: `own` (a red contact), `other` (a blue contact),
`shared` (a blue contact shared with the two share users), and the rows hanging on them (a communication, a
note, a task). Every request runs in a savepoint that is rolled back, so one set of fixtures serves them all.
"""
from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from collaboration.models import Note
from communications.models import Communication
from contacts.models import ContactShare
from contacts.tests.factories import ContactFactory
from dataquality.models import LegalHold
from planning.models import Task

pytestmark = pytest.mark.django_db

# what a route × method does, which decides the expected answer (docs/collaboration.md, "The matrix")
READ = "read"            # reads one object hanging on a contact: 404 unseen, 200 seen
WRITE = "write"          # changes it: 403 for team viewers (no write permission) and read-only shares,
#                          404 unseen, past the scope (2xx, or 400/409 for this empty body) when editable
GATED_READ = "gated"     # a read that also needs a permission viewers lack (personal data): viewers 403
SIGNED_IN = "signed_in"  # no contact in the path (lists, settings, own rows): 401 anonymous, never 5xx;
#                          lists and counts are scoped (tests/test_visibility_leaks.py, collaboration tests)
PUBLIC = "public"        # login, the schema, signed download links: anyone, never 5xx

CONTACT, COMMUNICATION, NOTE, TASK = "contact", "communication", "note", "task"

ROUTES: dict[str, dict[str, tuple]] = {
    "schema": {"GET": (PUBLIC,)}, "docs": {"GET": (PUBLIC,)}, "auth-token": {"POST": (PUBLIC,)},
    "attachment-download": {"GET": (PUBLIC,)},
    # one contact in the path
    "contact-detail": {"GET": (READ, CONTACT), "PUT": (WRITE, CONTACT), "PATCH": (WRITE, CONTACT),
                       "DELETE": (WRITE, CONTACT)},
    "contact-history": {"GET": (READ, CONTACT)}, "contact-status": {"POST": (WRITE, CONTACT)},
    "contact-shares": {"GET": (READ, CONTACT), "POST": (WRITE, CONTACT)},
    "contact-share": {"DELETE": (WRITE, CONTACT)},
    "contact-reports": {"GET": (READ, CONTACT)}, "contact-communications": {"GET": (READ, CONTACT)},
    "contact-preferences": {"GET": (READ, CONTACT), "PUT": (WRITE, CONTACT)},
    "contact-activity": {"GET": (READ, CONTACT)}, "contact-duplicates": {"GET": (READ, CONTACT)},
    "contact-merge": {"POST": (WRITE, CONTACT)},
    "contact-privacy-export": {"GET": (GATED_READ, CONTACT)},
    "contact-privacy-erase": {"POST": (WRITE, CONTACT)},
    "contact-legal-hold": {"POST": (WRITE, CONTACT), "DELETE": (WRITE, CONTACT)},
    # rows hanging on a contact
    "communication-detail": {"GET": (READ, COMMUNICATION), "PATCH": (WRITE, COMMUNICATION),
                             "DELETE": (WRITE, COMMUNICATION)},
    "communication-events": {"GET": (READ, COMMUNICATION)},
    "communication-status": {"POST": (WRITE, COMMUNICATION)},
    "note-detail": {"GET": (READ, NOTE), "PATCH": (SIGNED_IN,), "DELETE": (SIGNED_IN,)},  # author or admin
    "note-history": {"GET": (READ, NOTE)},
    "task-detail": {"GET": (READ, TASK), "PUT": (WRITE, TASK), "PATCH": (WRITE, TASK),
                    "DELETE": (WRITE, TASK)},
    "task-complete": {"POST": (WRITE, TASK)},
}
# everything else names no contact in its path: signed-in users only, scoped inside
for _name, _methods in {
    "auth-tokens": "GET POST", "auth-token-detail": "DELETE", "users": "GET POST", "user-me": "GET",
    "user-detail": "GET PATCH", "teams": "GET POST", "team-detail": "GET PATCH DELETE",
    "team-members": "GET POST", "team-member": "DELETE", "contact-actions": "GET POST",
    "contact-action-detail": "GET", "organization-groups": "GET", "organization-tree": "GET",
    "organization-merge": "POST", "report-contacts": "GET", "tags": "GET", "tags-merge": "POST",
    "contact-list": "GET POST", "contact-bulk": "POST", "group-list": "GET POST",
    "group-detail": "GET PUT PATCH DELETE", "group-members": "GET POST DELETE", "template-list": "GET POST",
    "template-detail": "GET PUT PATCH DELETE", "saved-view-list": "GET POST",
    "saved-view-detail": "GET PUT PATCH DELETE", "duplicate-list": "GET", "duplicate-refresh": "POST",
    "duplicate-dismiss": "POST", "duplicate-reopen": "POST", "contact-export": "GET", "import-list": "GET POST",
    "import-detail": "GET", "import-errors": "GET", "import-commit": "POST", "import-undo": "POST",
    "merge-detail": "GET", "merge-undo": "POST", "organization-list": "GET POST",
    "organization-detail": "GET PUT PATCH DELETE", "contact-type-list": "GET POST",
    "contact-type-detail": "GET PUT PATCH DELETE", "category-list": "GET POST",
    "category-detail": "GET PUT PATCH DELETE", "communication-list": "GET POST",
    "message-template-list": "GET POST", "message-template-detail": "GET PUT PATCH DELETE",
    "message-template-preview": "POST", "suppression-list": "GET POST", "suppression-detail": "DELETE",
    "list-list": "GET POST", "list-detail": "GET PUT PATCH DELETE", "list-call-plan": "GET", "list-job": "GET",
    "list-members": "GET POST DELETE", "segment-list": "GET POST", "segment-preview": "POST",
    "segment-detail": "GET PUT PATCH DELETE", "segment-call-plan": "GET", "segment-changes": "GET",
    "segment-explain": "GET", "segment-members": "GET", "segment-refresh": "POST", "task-list": "GET POST",
    "campaign-list": "GET POST", "campaign-detail": "GET PUT PATCH DELETE", "campaign-cancel": "POST",
    "campaign-pause": "POST", "campaign-recipients": "GET", "campaign-resume": "POST",
    "campaign-schedule": "POST", "campaign-stats": "GET", "notes": "GET POST",
    "attachments": "GET POST", "attachment-detail": "GET DELETE", "notifications": "GET",
    "notifications-unread-count": "GET", "notifications-read-all": "POST",
    "notification-preferences": "GET PUT PATCH", "notification-read": "POST", "webhooks": "GET POST",
    "webhook-events": "GET", "webhook-detail": "GET PATCH DELETE", "webhook-rotate": "POST",
    "webhook-deliveries": "GET", "webhook-delivery": "GET", "webhook-replay": "POST",
}.items():
    if _methods:
        ROUTES[_name] = {m: (SIGNED_IN,) for m in _methods.split()}

CALLERS = ("anonymous", "team_viewer", "team_member", "other_team", "shared_read", "shared_edit", "admin")
OBJECTS = ("own", "other", "shared")
# what each caller may do with each contact: None (unseen), "read", "edit"
ACCESS = {
    "team_viewer": {"own": "read", "other": None, "shared": None},
    "team_member": {"own": "edit", "other": None, "shared": None},
    "other_team": {"own": None, "other": "edit", "shared": "edit"},
    "shared_read": {"own": None, "other": None, "shared": "read"},
    "shared_edit": {"own": None, "other": None, "shared": "edit"},
    "admin": {"own": "edit", "other": "edit", "shared": "edit"},
}
PAST_THE_SCOPE = {200, 201, 202, 204, 400, 409}


def expected(kind: str, caller: str, obj: str | None) -> set[int]:
    """The table of docs/collaboration.md."""
    if kind == PUBLIC:
        return set(range(200, 500))
    if caller == "anonymous":
        return {401}
    if kind == SIGNED_IN:
        return set(range(200, 500)) - {401}
    access = ACCESS[caller][obj]
    if kind == READ:
        return {200} if access else {404}
    if kind == GATED_READ:
        return {403} if caller == "team_viewer" else {200} if access else {404}
    if caller == "team_viewer":
        return {403}  # no write permission at all: refused before any lookup, nothing revealed
    return {404} if access is None else {403} if access == "read" else PAST_THE_SCOPE


def api_routes():
    """(url name, pattern, view callback) of every API route, walking the URLconf."""
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield pattern.name, prefix + str(pattern.pattern), pattern.callback
    for name, route, callback in walk(get_resolver().url_patterns):
        if route.startswith("api/v1/") and "<drf_format_suffix" not in route and r"\.(?P<format>" not in route:
            yield name, route, callback


def methods_of(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # DRF adds `head` (answered as `get`) to a viewset's actions once it has served a GET
        return sorted(m.upper() for m in actions if m != "head")
    cls = getattr(callback, "cls", None)
    if cls is None:
        return ["GET"]
    return sorted(m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m))


def test_every_route_and_method_has_an_entry():
    missing = [f"{name} {method} ({route})" for name, route, callback in api_routes()
               for method in methods_of(callback) if method not in ROUTES.get(name, {})]
    assert not missing, "routes without an entry in the visibility matrix:\n" + "\n".join(missing)


def fill(route: str, values: dict[str, str]) -> str:
    """The route with its arguments (`<conv:name>` and `(?P<name>…)`) replaced by `values`."""
    def value(match):
        return values.get(match.group(1), "00000000-0000-0000-0000-000000000000")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", value, path)
    return "/" + path.replace("^", "").replace("$", "")


@pytest.fixture
def world(make_user, teams, admin_user):
    red, blue = teams
    users = {
        "team_viewer": make_user("red-viewer", "viewer", teams=[red], team_role="viewer"),
        "team_member": make_user("red-member", "member", teams=[red]),
        "other_team": make_user("blue-member", "member", teams=[blue]),
        "shared_read": make_user("share-reader", "member"),
        "shared_edit": make_user("share-editor", "member"),
        "admin": admin_user,
    }
    contacts = {"own": ContactFactory(team=red), "other": ContactFactory(team=blue),
                "shared": ContactFactory(team=blue)}
    ContactShare.objects.create(contact=contacts["shared"], user=users["shared_read"])
    ContactShare.objects.create(contact=contacts["shared"], user=users["shared_edit"], can_edit=True)
    # a share and a legal hold on every contact, for the routes that remove them (a bystander, not a caller)
    bystander = make_user("bystander", "member")
    ContactShare.objects.bulk_create([ContactShare(contact=c, user=bystander) for c in contacts.values()])
    LegalHold.objects.bulk_create([LegalHold(contact=c, reason="audit") for c in contacts.values()])
    users["bystander"] = bystander
    rows = {}
    for which, contact in contacts.items():
        rows[which] = {
            CONTACT: contact,
            COMMUNICATION: Communication.objects.create(contact=contact, type="call", direction="outbound",
                                                        status="sent", content="called"),
            NOTE: Note.objects.create(contact=contact, body="a note", author=users["admin"]),
            TASK: Task.objects.create(contact=contact, title="call back", due_at=timezone.now()),
        }
    return users, rows


BODIES = {"POST": {}, "PUT": {}, "PATCH": {}}


def call(client: APIClient, method: str, path: str) -> int:
    with transaction.atomic():
        response = getattr(client, method.lower())(path, BODIES.get(method), format="json") \
            if method in BODIES else getattr(client, method.lower())(path)
        transaction.set_rollback(True)
    return response.status_code


def test_the_matrix(world):
    users, rows = world
    clients = {"anonymous": APIClient()}
    for caller in CALLERS[1:]:
        user = users[caller]
        clients[caller] = APIClient()
        clients[caller].force_authenticate(user)
    failures, requests, routes = [], 0, 0
    for name, route, callback in api_routes():
        routes += 1
        for method in methods_of(callback):
            entry = ROUTES[name][method]
            kind, target = entry[0], (entry[1] if len(entry) > 1 else None)
            for obj in (OBJECTS if target else (None,)):
                values = {}
                if target:
                    row = rows[obj][target]
                    values = {"pk": str(row.pk), "contact_id": str(rows[obj][CONTACT].pk), "note_id": str(row.pk),
                              "user_id": str(users["bystander"].pk)}
                path = fill(route, values)
                for caller in CALLERS:
                    if kind in (SIGNED_IN, PUBLIC) and caller not in ("anonymous", "team_viewer", "team_member"):
                        continue  # no object: three callers say all there is (who may not, who may)
                    status = call(clients[caller], method, path)
                    requests += 1
                    if status not in expected(kind, caller, obj):
                        failures.append(f"{method} {path} [{name}] as {caller} on {obj}: {status}, expected "
                                        f"{sorted(expected(kind, caller, obj))[:6]}")
    print(f"visibility matrix: {routes} routes, {requests} requests")
    assert routes >= 100
    assert not failures, f"{len(failures)} of {requests} requests off the table:\n" + "\n".join(failures)
