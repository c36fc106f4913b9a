"""Merge fields rendered in a Jinja2 sandbox: templates see only the context given here.

Templates use `{{ contact.first_name }}`, `{{ custom.plan }}` (custom fields), `{{ organization.name }}`
and `{{ unsubscribe_url }}`. `check_template` finds every name a template uses and rejects unknown ones
when the template is saved; at send time every known name has a value (empty when the contact has none),
and StrictUndefined turns anything else into an error instead of silently printing nothing.
"""
from __future__ import annotations

import dataclasses

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from contacts.models import Contact, ContactTemplate

CONTACT_FIELDS = ("id", "first_name", "last_name", "full_name", "email", "phone", "job_title", "timezone",
                  "locale", "status", "type")
ORGANIZATION_FIELDS = ("name", "domain")
TOP_LEVEL = {"contact", "custom", "organization", "unsubscribe_url"}

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class RenderError(Exception):
    pass


@dataclasses.dataclass
class Rendered:
    subject: str
    text: str
    html: str


def known_custom_fields() -> set[str]:
    """Custom-field keys defined by any contact template (one query)."""
    keys: set[str] = set()
    for definitions in ContactTemplate.objects.values_list("custom_fields", flat=True):
        for definition in definitions or []:
            if isinstance(definition, dict) and definition.get("key"):
                keys.add(str(definition["key"]))
    return keys


def _attribute_uses(ast) -> list[tuple[str, str]]:
    """(object, attribute) for `contact.x`, `contact['x']`, `custom.x`, `organization.x`."""
    uses = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name in ("contact", "custom", "organization"):
            if isinstance(node, nodes.Getattr):
                uses.append((node.node.name, node.attr))
            elif isinstance(node.arg, nodes.Const):
                uses.append((node.node.name, str(node.arg.value)))
    return uses


def check_template(source: str, *, html: bool = False, custom_fields: set[str] | None = None) -> list[str]:
    """Problems with one template text: syntax errors and merge fields that do not exist."""
    if not source:
        return []
    env = _html_env if html else _text_env
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [f"Template syntax error on line {exc.lineno}: {exc.message}"]
    from jinja2 import meta

    problems = [f"Unknown merge field {name!r}; use contact.<field>, custom.<field>, organization.<field> "
                f"or unsubscribe_url." for name in sorted(meta.find_undeclared_variables(ast) - TOP_LEVEL)]
    custom = known_custom_fields() if custom_fields is None else custom_fields
    allowed = {"contact": set(CONTACT_FIELDS), "organization": set(ORGANIZATION_FIELDS), "custom": custom}
    for obj, attr in _attribute_uses(ast):
        if attr not in allowed[obj]:
            problems.append(f"Unknown merge field '{obj}.{attr}'.")
    try:
        # compile catches what parsing alone does not (e.g. bad filter names)
        env.from_string(source)
    except TemplateSyntaxError as exc:
        problems.append(f"Template error on line {exc.lineno}: {exc.message}")
    return list(dict.fromkeys(problems))


def merge_context(contact: Contact, *, custom_fields: set[str], unsubscribe_url: str = "") -> dict:
    custom = {key: "" for key in custom_fields}
    custom.update({k: v for k, v in (contact.custom_fields or {}).items() if isinstance(k, str)})
    organization = getattr(contact, "organization", None) if contact.organization_id else None
    return {
        "contact": {
            "id": str(contact.id), "first_name": contact.first_name, "last_name": contact.last_name,
            "full_name": contact.full_name, "email": contact.email, "phone": contact.phone,
            "job_title": contact.job_title, "timezone": contact.timezone, "locale": contact.locale,
            "status": contact.status, "type": contact.type_id or "",
        },
        "custom": custom,
        "organization": {"name": organization.name if organization else "",
                         "domain": (organization.domain or "") if organization else ""},
        "unsubscribe_url": unsubscribe_url,
    }


def render(*, subject: str, text: str, html: str, context: dict) -> Rendered:
    try:
        return Rendered(
            subject=" ".join(_text_env.from_string(subject).render(context).split()) if subject else "",
            text=_text_env.from_string(text).render(context) if text else "",
            html=_html_env.from_string(html).render(context) if html else "",
        )
    except (TemplateSyntaxError, UndefinedError, SecurityError, TypeError, ValueError) as exc:
        raise RenderError(f"Template could not be rendered: {exc}") from exc
