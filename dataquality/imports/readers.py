"""Reading uploaded files: format, encoding and delimiter detection, column mapping, and row streams.

Rows are yielded one at a time (the file is never loaded whole), as dicts of import fields
(see FIELDS) with raw string values; normalize.clean_row validates them.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import vobject

from contacts_project.errors import FieldError, InvalidInput

# import field → what it fills
FIELDS = {
    "first_name": "First (given) name", "last_name": "Last (family) name",
    "full_name": "Full name, split at the first space when there is no first/last name",
    "email": "Primary email", "other_email": "More emails (several columns may map here)",
    "phone": "Primary phone", "other_phone": "More phones (several columns may map here)",
    "organization": "Organization name (matched case-insensitively, created when new)",
    "job_title": "Job title", "tags": "Tags (separated by ; , or Google's :::)", "status": "Lifecycle status",
    "timezone": "IANA time zone", "locale": "Locale tag", "notes": "custom_fields.notes",
    "birthday": "custom_fields.birthday", "address": "custom_fields.address", "website": "custom_fields.website",
    "nickname": "custom_fields.nickname",
}
CUSTOM_KEY = re.compile(r"^custom\.[a-z][a-z0-9_]{0,62}$")
IGNORE = ("", None, "ignore")

# Header names (normalized: lower case, letters and digits only) of the exports of Google Contacts
# (old and new format), Outlook, Apple Contacts (via its CSV exporters) and HubSpot.
SYNONYMS = {
    "first_name": ["firstname", "givenname", "first", "forename", "prenom"],
    "last_name": ["lastname", "familyname", "surname", "last", "nom"],
    "full_name": ["name", "fullname", "displayname", "contactname"],
    "email": ["email", "emailaddress", "email1value", "email1", "primaryemail", "mail", "emailhome",
              "homeemail", "emailaddresshome"],
    "other_email": ["email2value", "email3value", "email2address", "email3address", "email2", "email3",
                    "workemail", "otheremail", "additionalemailaddresses", "emailwork"],
    "phone": ["phone", "phonenumber", "phone1value", "mobilephone", "mobile", "mobilephonenumber", "telephone",
              "tel", "primaryphone", "cellphone", "phonemobile"],
    "other_phone": ["phone2value", "phone3value", "businessphone", "homephone", "otherphone", "businessphone2",
                    "homephone2", "workphone", "phonework", "phonehome", "companymainphone"],
    "organization": ["organization", "organization1name", "organizationname", "company", "companyname",
                     "organisation", "employer"],
    "job_title": ["jobtitle", "title", "organization1title", "organizationtitle", "position", "role"],
    "tags": ["tags", "labels", "groupmembership", "categories", "groups"],
    "status": ["status", "lifecyclestage"],
    "notes": ["notes", "note", "comments", "description"],
    "birthday": ["birthday", "dateofbirth", "birthdate", "bday"],
    "address": ["address1formatted", "homeaddress", "businessaddress", "address", "streetaddress",
                "businessstreet", "homestreet"],
    "website": ["website", "website1value", "webpage", "url", "websiteurl"],
    "nickname": ["nickname"],
    "timezone": ["timezone", "time_zone"],
}
_BY_HEADER = {alias: field for field, aliases in SYNONYMS.items() for alias in aliases}
# HubSpot's lifecycle stages are not our statuses; their column is ignored unless mapped by hand
_NOT_STATUS = {"lifecyclestage"}

MAGIC = [
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (e.g. an Excel .xlsx file)"),
    (b"\xd0\xcf\x11\xe0", "an Office document (e.g. an Excel .xls file)"), (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"), (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document"),
]


def header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """Column → field for each column we recognise; each single-valued field is taken once (first column)."""
    mapping, taken = {}, set()
    for header in headers:
        key = header_key(header)
        field = _BY_HEADER.get(key)
        if key in _NOT_STATUS:
            field = None
        if field is None or (field in taken and not field.startswith("other_")):
            if field in ("email", "phone") and field in taken:
                field = f"other_{field}"
            else:
                continue
        mapping[header] = field
        taken.add(field)
    return mapping


def validate_mapping(mapping: Any, headers: list[str]) -> dict[str, str]:
    if mapping in (None, ""):
        return suggest_mapping(headers)
    if not isinstance(mapping, dict):
        raise InvalidInput.field("mapping", "The mapping is an object of column: field.")
    errors = []
    for column, field in mapping.items():
        if column not in headers:
            errors.append(FieldError(f"mapping.{column}", "unknown_column",
                                     f"The file has no column {column!r}; its columns are {headers[:50]}."))
        elif field not in IGNORE and field not in FIELDS and not (isinstance(field, str) and CUSTOM_KEY.match(field)):
            errors.append(FieldError(f"mapping.{column}", "unknown_field",
                                     f"{field!r} is not an import field; use one of {sorted(FIELDS)}, "
                                     "custom.<key>, or \"\" to ignore the column."))
    if errors:
        raise InvalidInput("The mapping names unknown columns or fields.", errors=errors)
    return {c: f for c, f in mapping.items() if f not in IGNORE}


@dataclass
class Detected:
    format: str  # csv | vcard
    encoding: str
    delimiter: str = ""


def _decodes(path: str, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: str, head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") > len(sample) // 4:
        # UTF-16 without a byte order mark: ASCII text has its zero bytes on one side
        return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
    if _decodes(path, "utf-8"):
        return "utf-8"
    return "cp1252" if _decodes(path, "cp1252") else "latin-1"


def detect(path: str) -> Detected:
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise InvalidInput.field("file", "The file is empty.", "empty")
    for magic, what in MAGIC:
        if head.startswith(magic):
            raise InvalidInput.field("file", f"This is {what}, not a CSV or vCard file. Export your contacts "
                                             "as CSV (comma or semicolon separated) or vCard (.vcf).",
                                     "unsupported_format")
    encoding = detect_encoding(path, head)
    if not encoding.startswith("utf-16") and b"\x00" in head:
        raise InvalidInput.field("file", "This is a binary file, not a CSV or vCard file.", "unsupported_format")
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if first_line.strip().upper().startswith("BEGIN:VCARD"):
        return Detected("vcard", encoding)
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and len(head) == 65536:
        lines = lines[:-1]  # the head ends mid-file: its last line may be cut
    sample = "\n".join(lines)
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader(io.StringIO(lines[0] if lines else ""), delimiter=delimiter), [])
    if len(header) < 2 and not any(header_key(h) in _BY_HEADER for h in header):
        what = "HTML" if first_line.lstrip().startswith("<") else "JSON" if first_line.lstrip()[:1] in "{[" \
            else "text with a single column and no known header"
        raise InvalidInput.field("file", f"Detected {what}, not a CSV file with a header row or a vCard file.",
                                 "unsupported_format")
    return Detected("csv", encoding, delimiter)


# --------------------------------------------------------------------------- CSV
def csv_header(path: str, detected: Detected) -> list[str]:
    with open(path, encoding=detected.encoding, newline="", errors="replace") as handle:
        header = next(csv.reader(handle, delimiter=detected.delimiter), [])
    return [h.lstrip("\ufeff").strip() for h in header]


def csv_rows(path: str, detected: Detected, mapping: dict[str, str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, import fields) for each data row; row 1 is the first after the header."""
    with open(path, encoding=detected.encoding, newline="", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=detected.delimiter)
        header = [h.lstrip("\ufeff").strip() for h in next(reader, [])]
        plan = [(index, mapping[name]) for index, name in enumerate(header) if name in mapping]
        for number, cells in enumerate(reader, start=1):
            if not cells or not any(cells):
                continue
            row: dict[str, Any] = {}
            width = len(cells)
            for index, field in plan:
                if index >= width:
                    continue
                value = cells[index]
                if not value:
                    continue
                if field == "other_email":
                    row.setdefault("other_emails", []).append(value)
                elif field == "other_phone":
                    row.setdefault("other_phones", []).append(value)
                elif field.startswith("custom."):
                    row.setdefault("custom", {})[field[7:]] = value
                elif field == "address" and "address" in row:
                    row["address"] += "; " + value
                else:
                    row.setdefault(field, value)
            yield number, row


# --------------------------------------------------------------------------- vCard
_BINARY = re.compile(r"^(?:[\w-]+\.)?(PHOTO|LOGO|SOUND|KEY)[;:]", re.IGNORECASE)
_QP = re.compile(r";ENCODING=QUOTED-PRINTABLE", re.IGNORECASE)
_CHARSET = re.compile(r";CHARSET=([\w-]+)", re.IGNORECASE)


def _clean_card(lines: list[str]) -> str:
    """Drop binary properties (photos, keys: ignored) and decode vCard 2.1 quoted-printable values
    ourselves, leniently (real phones write cut UTF-8 sequences, which vobject would reject)."""
    import quopri

    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r\n")
        index += 1
        if _BINARY.match(line):
            # skip the folded base64 continuation and the blank line vCard 2.1 ends it with
            while index < len(lines) and (lines[index][:1] in (" ", "\t") or not lines[index].strip()):
                index += 1
            continue
        name, sep, value = line.partition(":")
        if sep and _QP.search(name):
            while value.endswith("=") and index < len(lines):  # soft line breaks
                value = value[:-1] + lines[index].rstrip("\r\n")
                index += 1
            charset = (_CHARSET.search(name).group(1) if _CHARSET.search(name) else "utf-8")
            raw = quopri.decodestring(value.encode("latin-1", errors="replace"))
            try:
                decoded = raw.decode(charset, errors="replace")
            except LookupError:
                decoded = raw.decode("utf-8", errors="replace")
            name = _CHARSET.sub("", _QP.sub("", name))
            line = f"{name}:{decoded.replace(chr(13), '').replace(chr(10), chr(92) + 'n')}"
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def vcard_blocks(path: str, encoding: str) -> Iterator[tuple[int, str]]:
    """The text of each BEGIN:VCARD … END:VCARD block, without parsing (so one broken card stays one error)."""
    with open(path, encoding=encoding, newline="", errors="replace") as handle:
        lines: list[str] = []
        depth, number = 0, 0
        for line in handle:
            upper = line.lstrip("\ufeff").strip().upper()
            if upper.startswith("BEGIN:VCARD"):
                depth += 1
                if depth == 1:
                    lines = []
            if depth:
                lines.append(line.lstrip("\ufeff"))
            if upper.startswith("END:VCARD") and depth:
                depth -= 1
                if depth == 0:
                    number += 1
                    yield number, _clean_card(lines)
        if depth and lines:
            number += 1
            yield number, _clean_card(lines)  # unterminated last card: vobject reports it


def _types(prop) -> set[str]:
    out = set()
    for key, values in (prop.params or {}).items():
        key = key.upper()
        if key in ("TYPE", "PREF"):
            for value in values:
                out.update(v.strip().strip('"').lower() for v in str(value).split(","))
            if key == "PREF":
                out.add("pref")
        else:
            out.add(key.lower())  # vCard 2.1: bare parameters such as EMAIL;PREF;INTERNET
    return out


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value if v).strip()
    return str(value or "").strip()


def _ordered(props) -> list:
    """Preferred (TYPE=pref / PREF=1) values first, then in file order."""
    return sorted(props, key=lambda p: 0 if "pref" in _types(p) or "1" in _types(p) else 1)


def _decode_qp(prop) -> str:
    """vCard 2.1 quoted-printable with a charset, which vobject leaves encoded for some properties."""
    value = prop.value
    params = {k.upper(): [str(v).upper() for v in vs] for k, vs in (prop.params or {}).items()}
    if "QUOTED-PRINTABLE" in params.get("ENCODING", []) and isinstance(value, str) and "=" in value:
        import quopri

        charset = (params.get("CHARSET") or ["UTF-8"])[0]
        try:
            return quopri.decodestring(value.encode("latin-1", errors="replace")).decode(charset, errors="replace")
        except LookupError:
            return quopri.decodestring(value.encode("latin-1", errors="replace")).decode("utf-8", errors="replace")
    return value


def vcard_to_row(text: str) -> dict[str, Any]:
    card = vobject.readOne(text, allowQP=True, ignoreUnreadable=True)
    contents = card.contents
    row: dict[str, Any] = {}

    def first(name):
        props = contents.get(name) or []
        return props[0] if props else None

    name = first("n")
    if name is not None:
        value = name.value
        if isinstance(value, str):  # vobject keeps N as text when it could not split it (e.g. quoted-printable)
            parts = _decode_qp(name).split(";")
            row["last_name"] = parts[0].strip() if parts else ""
            row["first_name"] = parts[1].strip() if len(parts) > 1 else ""
        else:
            row["first_name"] = _text(value.given)
            row["last_name"] = _text(value.family)
    fn = first("fn")
    if fn is not None and not (row.get("first_name") or row.get("last_name")):
        row["full_name"] = _text(_decode_qp(fn))
    emails = [_text(p.value) for p in _ordered(contents.get("email") or []) if _text(p.value)]
    if emails:
        row["email"], row["other_emails"] = emails[0], emails[1:]
    phones = []
    for prop in _ordered(contents.get("tel") or []):
        number = _text(prop.value)
        if number.lower().startswith("tel:"):
            number = number[4:]
        number = number.split(";")[0]  # tel: URI parameters such as ;ext=102
        if number:
            phones.append(number)
    if phones:
        row["phone"], row["other_phones"] = phones[0], phones[1:]
    org = first("org")
    if org is not None:
        value = org.value
        row["organization"] = _text(value[0] if isinstance(value, (list, tuple)) and value else value)
    title = first("title")
    if title is not None:
        row["job_title"] = _text(_decode_qp(title))
    tags = []
    for prop in contents.get("categories") or []:
        values = prop.value if isinstance(prop.value, (list, tuple)) else str(prop.value).split(",")
        tags.extend(v.strip() for v in values if v and v.strip())
    if tags:
        row["tags"] = tags
    note = first("note")
    if note is not None:
        row["notes"] = _decode_qp(note).strip()
    bday = first("bday")
    if bday is not None:
        row["birthday"] = _text(bday.value)
    nickname = first("nickname")
    if nickname is not None:
        row["nickname"] = _text(nickname.value)
    url = first("url")
    if url is not None:
        row["website"] = _text(url.value).replace("\\:", ":")
    adr = _ordered(contents.get("adr") or [])
    if adr:
        value = adr[0].value
        if hasattr(value, "street"):
            parts = [value.box, value.extended, value.street, value.city, value.region, value.code, value.country]
            row["address"] = ", ".join(_text(p) for p in parts if _text(p)).replace("\n", ", ")
        else:
            row["address"] = _text(value)
    # PHOTO, LOGO, KEY and SOUND are binary: ignored (documented in docs/data-quality.md)
    return row


_UNFOLD = re.compile(r"\r?\n[ \t]")
_SPLIT = re.compile(r"(?<!\\)[;]")
_SPLIT_COMMA = re.compile(r"(?<!\\),")


_ESCAPED = re.compile(r"\\(.)")


def _unescape(value: str) -> str:
    return _ESCAPED.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value).strip()


def vcard_to_row_fast(text: str) -> dict[str, Any]:
    """The same fields as vcard_to_row, from vobject's line tokenizer (parseLine) without building the
    component tree, which costs ~30 times more per card. Anything unexpected raises, and the caller
    falls back to the full vobject parse."""
    props: dict[str, list[tuple[set, str]]] = {}
    for line in _UNFOLD.sub("", text).splitlines():
        if not line.strip():
            continue
        name, params, value, _group = vobject.base.parseLine(line)
        name = name.upper()
        if name in ("BEGIN", "END"):
            if value.upper() != "VCARD":
                raise ValueError("nested component")
            continue
        types = set()
        for param in params:
            key = param[0].upper()
            if key in ("TYPE", "PREF"):
                for item in param[1:]:
                    types.update(v.strip().strip('"').lower() for v in str(item).split(","))
                if key == "PREF":
                    types.add("pref")
            elif len(param) == 1:
                types.add(key.lower())
            elif key == "ENCODING" and any(str(v).upper() in ("B", "BASE64") for v in param[1:]):
                types.add("binary")
        props.setdefault(name, []).append((types, value))

    def ordered(name):
        return [v for _, v in sorted(props.get(name, []), key=lambda p: 0 if p[0] & {"pref", "1"} else 1)]

    def first(name):
        values = props.get(name)
        return values[0][1] if values else None

    row: dict[str, Any] = {}
    if first("N") is not None:
        parts = _SPLIT.split(first("N"))
        row["last_name"] = _unescape(parts[0]) if parts else ""
        row["first_name"] = _unescape(parts[1]) if len(parts) > 1 else ""
    if first("FN") is not None and not (row.get("first_name") or row.get("last_name")):
        row["full_name"] = _unescape(first("FN"))
    emails = [_unescape(v) for v in ordered("EMAIL") if _unescape(v)]
    if emails:
        row["email"], row["other_emails"] = emails[0], emails[1:]
    phones = []
    for value in ordered("TEL"):
        number = _unescape(value)
        if number.lower().startswith("tel:"):
            number = number[4:]
        number = number.split(";")[0]
        if number:
            phones.append(number)
    if phones:
        row["phone"], row["other_phones"] = phones[0], phones[1:]
    if first("ORG") is not None:
        row["organization"] = _unescape(_SPLIT.split(first("ORG"))[0])
    if first("TITLE") is not None:
        row["job_title"] = _unescape(first("TITLE"))
    tags = [_unescape(t) for value in (v for _, v in props.get("CATEGORIES", []))
            for t in _SPLIT_COMMA.split(value) if _unescape(t)]
    if tags:
        row["tags"] = tags
    for prop, key in (("NOTE", "notes"), ("BDAY", "birthday"), ("NICKNAME", "nickname"), ("URL", "website")):
        if first(prop) is not None:
            row[key] = _unescape(first(prop))
    adr = ordered("ADR")
    if adr:
        parts = [" ".join(_unescape(v) for v in _SPLIT_COMMA.split(p) if _unescape(v)) for p in _SPLIT.split(adr[0])]
        row["address"] = ", ".join(p for p in parts if p).replace("\n", ", ")
    return row


def vcard_rows(path: str, detected: Detected) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
    for number, text in vcard_blocks(path, detected.encoding):
        try:
            yield number, vcard_to_row_fast(text)
            continue
        except Exception:  # noqa: BLE001 - unusual card: the full vobject parse decides
            pass
        try:
            yield number, vcard_to_row(text)
        except Exception as exc:  # noqa: BLE001 - a broken card is a row error, never a crash
            yield number, exc
