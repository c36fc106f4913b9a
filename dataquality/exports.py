"""Streamed exports of any contact filter: CSV, vCard 4.0 (RFC 6350) and JSContact (RFC 9553) JSON.

Rows come from a server-side cursor (QuerySet.iterator) and are written as they arrive, so memory stays
flat whatever the number of contacts.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import orjson
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, QuerySet

from contacts.models import ContactCategory
from contacts_project.timefmt import iso_z

FORMATS = {"csv": "text/csv; charset=utf-8", "vcf": "text/vcard; charset=utf-8",
           "json": "application/json"}
EXTENSIONS = {"csv": "csv", "vcf": "vcf", "json": "json"}
CSV_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "organization", "job_title", "status", "type",
               "tags", "categories", "timezone", "locale", "custom_fields", "created_at", "updated_at")
ITERATOR_CHUNK = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ (and tab/CR) as formulas: prefix them with '.
    Our import strips that prefix again, so an export re-imports unchanged."""
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_rows(queryset: QuerySet) -> Iterator[dict]:
    categories = ArraySubquery(ContactCategory.objects.filter(contact_id=OuterRef("pk"))
                               .values("category__name"))
    rows = queryset.order_by().annotate(org_name=F("organization__name"), category_names=categories).values(
        "id", "first_name", "last_name", "email", "phone", "org_name", "job_title", "status", "type_id", "tags",
        "category_names", "timezone", "locale", "custom_fields", "created_at", "updated_at")
    yield from rows.iterator(chunk_size=ITERATOR_CHUNK)



class _Line:
    """A file-like sink for csv.writer that hands back what was written."""

    def __init__(self):
        self.buffer = io.StringIO()

    def take(self) -> str:
        value = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return value


def stream_csv(queryset: QuerySet) -> Iterator[str]:
    sink = _Line()
    writer = csv.writer(sink.buffer)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in export_rows(queryset):
        writer.writerow([neutralize(str(v)) for v in (
            row["id"], row["first_name"], row["last_name"], row["email"], row["phone"], row["org_name"] or "",
            row["job_title"], row["status"], row["type_id"] or "", ";".join(row["tags"] or []),
            ";".join(n for n in row["category_names"] or [] if n),
            row["timezone"], row["locale"],
            orjson.dumps(row["custom_fields"]).decode() if row["custom_fields"] else "",
            iso_z(row["created_at"]) or "", iso_z(row["updated_at"]) or "")])
        count += 1
        if count % 500 == 0:
            yield sink.take()
    yield sink.take()


def _escape(value: str) -> str:
    return (value or "").replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 6350 §3.2), never inside a UTF-8 sequence."""
    data = line.encode()
    if len(data) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74  # continuation lines start with a space
    return "\r\n ".join(parts) + "\r\n"


def vcard(row: dict) -> str:
    lines = ["BEGIN:VCARD", "VERSION:4.0", f"UID:urn:uuid:{row['id']}",
             f"FN:{_escape(' '.join(p for p in (row['first_name'], row['last_name']) if p) or row['email'])}",
             f"N:{_escape(row['last_name'])};{_escape(row['first_name'])};;;"]
    if row["email"]:
        lines.append(f"EMAIL;PREF=1:{row['email']}")
    if row["phone"]:
        lines.append(f"TEL;VALUE=uri;PREF=1:tel:{row['phone']}")
    if row["org_name"]:
        lines.append(f"ORG:{_escape(row['org_name'])}")
    if row["job_title"]:
        lines.append(f"TITLE:{_escape(row['job_title'])}")
    tags = [*(row["tags"] or []), *(n for n in row["category_names"] or [] if n)]
    if tags:
        lines.append("CATEGORIES:" + ",".join(_escape(t) for t in tags))
    custom = row["custom_fields"] or {}
    if custom.get("birthday"):
        birthday = str(custom["birthday"])
        lines.append(f"BDAY:{birthday if birthday.startswith('--') else birthday.replace('-', '')}")
    if custom.get("notes"):
        lines.append(f"NOTE:{_escape(str(custom['notes']))}")
    if row["timezone"]:
        lines.append(f"TZ;VALUE=text:{_escape(row['timezone'])}")
    if row["locale"]:
        lines.append(f"LANG:{row['locale']}")
    if row["updated_at"]:
        lines.append("REV:" + row["updated_at"].strftime("%Y%m%dT%H%M%SZ"))
    lines.append("END:VCARD")
    return "".join(_fold(line) for line in lines)


def stream_vcf(queryset: QuerySet) -> Iterator[str]:
    buffer = []
    for row in export_rows(queryset):
        buffer.append(vcard(row))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer = []
    yield "".join(buffer)


def jscontact(row: dict) -> dict:
    """A JSContact Card (RFC 9553)."""
    card: dict = {"@type": "Card", "version": "1.0", "uid": f"urn:uuid:{row['id']}", "kind": "individual",
                  "name": {"@type": "Name", "components": [
                      c for c in ({"kind": "given", "value": row["first_name"]},
                                  {"kind": "surname", "value": row["last_name"]}) if c["value"]]},
                  "created": iso_z(row["created_at"]), "updated": iso_z(row["updated_at"])}
    if row["email"]:
        card["emails"] = {"e1": {"@type": "EmailAddress", "address": row["email"], "pref": 1}}
    if row["phone"]:
        card["phones"] = {"p1": {"@type": "Phone", "number": f"tel:{row['phone']}", "pref": 1}}
    if row["org_name"]:
        card["organizations"] = {"o1": {"@type": "Organization", "name": row["org_name"]}}
    if row["job_title"]:
        card["titles"] = {"t1": {"@type": "Title", "name": row["job_title"], "kind": "title"}}
    keywords = [*(row["tags"] or []), *(n for n in row["category_names"] or [] if n)]
    if keywords:
        card["keywords"] = {k: True for k in keywords}
    if row["locale"]:
        card["language"] = row["locale"]
    custom = row["custom_fields"] or {}
    if custom.get("notes"):
        card["notes"] = {"n1": {"@type": "Note", "note": str(custom["notes"])}}
    extra = {"status": row["status"], "type": row["type_id"], "timezone": row["timezone"],
             "custom_fields": custom}
    card["contacts.example.com:crm"] = {k: v for k, v in extra.items() if v}  # vendor property (RFC 9553 §1.4.4)
    return card


def stream_json(queryset: QuerySet) -> Iterator[bytes]:
    yield b"["
    first = True
    buffer = []
    for row in export_rows(queryset):
        buffer.append((b"" if first else b",") + orjson.dumps(jscontact(row)))
        first = False
        if len(buffer) >= 500:
            yield b"".join(buffer)
            buffer = []
    buffer.append(b"]")
    yield b"".join(buffer)


STREAMS = {"csv": stream_csv, "vcf": stream_vcf, "json": stream_json}
