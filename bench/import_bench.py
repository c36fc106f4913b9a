"""Import benchmark: generates a CSV (and a vCard file), imports them with the real engine against the
database DATABASE_URL names, prints rows/s and the peak RSS of the process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dev_h5 .venv/bin/python bench/import_bench.py --rows 100000
    .venv/bin/python bench/import_bench.py --rows 1000000 --vcards 100000 --keep

The contacts it creates are deleted at the end unless --keep. Phones come in the shapes real exports
hold ("(415) 555-0123", "+44 20 …", "415.555.0123"), a few rows are bad, some emails repeat.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")

import django  # noqa: E402

django.setup()

from seed import REBUILD_COUNTS  # noqa: E402

from dataquality.imports.readers import detect  # noqa: E402
from dataquality.imports.service import import_run  # noqa: E402
from dataquality.models import ImportedContact, ImportJob  # noqa: E402

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Tim", "Barbara", "Dennis", "Ken", "Frances", "José", "Zoë"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Berners-Lee", "Liskov", "Ritchie", "Müller"]


def phone(i: int) -> str:
    n = f"{random.randint(201, 989)}{random.randint(200, 999)}{i % 10000:04d}"
    shape = i % 10
    if shape < 5:
        return f"({n[:3]}) {n[3:6]}-{n[6:]}"
    if shape < 8:
        return f"+1 {n[:3]} {n[3:6]} {n[6:]}"
    if shape < 9:
        return f"{n[:3]}.{n[3:6]}.{n[6:]}"
    return f"+44 20 7946 {i % 10000:04d}"


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("First Name,Last Name,E-mail Address,Mobile Phone,Company,Job Title,Categories\n")
        for i in range(rows):
            email = f"user{i}@example{i % 5000}.com" if i % 1000 else "not-an-email"
            out.write(f"{FIRST[i % len(FIRST)]},{LAST[i % len(LAST)]},{email},{phone(i)},"
                      f"Company {i % 2000},Engineer,Customers;Tier {i % 3}\n")


def write_vcards(path: Path, cards: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        for i in range(cards):
            out.write("BEGIN:VCARD\r\nVERSION:3.0\r\n"
                      f"N:{LAST[i % len(LAST)]};{FIRST[i % len(FIRST)]};;;\r\n"
                      f"FN:{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}\r\n"
                      f"EMAIL;TYPE=INTERNET;TYPE=pref:card{i}@vcf{i % 5000}.example\r\n"
                      f"TEL;TYPE=CELL:{phone(i)}\r\nTEL;TYPE=WORK:+1 415 555 {i % 10000:04d}\r\n"
                      f"ORG:Company {i % 2000};Sales\r\nTITLE:Manager\r\nCATEGORIES:Friends,Work\r\n"
                      f"NOTE:Met at conference {i}\r\nBDAY:1980-01-{1 + i % 28:02d}\r\nEND:VCARD\r\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(path: Path, fmt: str, label: str, keep: bool, policy: str = "skip") -> None:
    detected = detect(str(path))
    mapping = {}
    if fmt == "csv":
        from dataquality.imports.readers import csv_header, suggest_mapping

        mapping = suggest_mapping(csv_header(str(path), detected))
    job = ImportJob.objects.create(format=fmt, filename=path.name, path=str(path), size=path.stat().st_size,
                                   content_hash=f"bench-{time.time_ns()}", encoding=detected.encoding,
                                   delimiter=detected.delimiter, mapping=mapping, on_duplicate=policy)
    ImportJob.objects.filter(pk=job.pk).update(path=str(path))
    started = time.perf_counter()
    job = import_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    print(f"{label}: {job.rows_done} rows in {elapsed:.1f} s = {job.rows_done / elapsed:,.0f} rows/s "
          f"(created {job.created}, updated {job.updated}, skipped {job.skipped}, failed {job.failed}); "
          f"peak RSS {peak_rss_mb():.0f} MB")
    if not keep:
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")  # no audit triggers for the cleanup
            cursor.execute("DELETE FROM contacts_contactevent WHERE pgh_context_id = %s", [job.pk])
            cursor.execute("DELETE FROM contacts_contact WHERE id IN (SELECT contact_id FROM "
                           "contacts_importedcontact WHERE job_id = %s)", [job.pk])
            for statement in REBUILD_COUNTS:  # the report rollup and organization counts (triggers were off)
                cursor.execute(statement)
        ImportedContact.objects.filter(job=job).delete()
        job.delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--vcards", type=int, default=0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--on-duplicate", default="skip", choices=["skip", "update", "create", "reject"])
    args = parser.parse_args()
    random.seed(8)
    from django.conf import settings

    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = "/"  # job paths below are absolute
        if args.rows:
            path = Path(tmp) / "contacts.csv"
            t = time.perf_counter()
            write_csv(path, args.rows)
            print(f"generated {args.rows} CSV rows ({path.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - t:.1f} s")
            bench(path, "csv", "CSV", args.keep, args.on_duplicate)
        if args.vcards:
            path = Path(tmp) / "contacts.vcf"
            write_vcards(path, args.vcards)
            bench(path, "vcard", "vCard", args.keep)


if __name__ == "__main__":
    main()
