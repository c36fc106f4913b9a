"""Planning benchmark: segment count and materialization, and campaign recipient materialization, timed
against the database DATABASE_URL names (run it on the benchmark database `make bench` seeds):

    DATABASE_URL=postgres://…/contacts_bench .venv/bin/python bench/planning_bench.py --recipients 100000

Targets (at 1,000,000 contacts): a five-rule segment counts in ≤ 2 s and materializes in ≤ 5 s;
a 100,000-recipient campaign materializes in ≤ 10 s. What it creates is deleted at the end.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from communications.models import MessageTemplate  # noqa: E402
from contacts.models import Contact  # noqa: E402
from planning import campaigns, segments, services  # noqa: E402
from planning.models import Campaign, CampaignRecipient, ContactList, ListMembership, Segment  # noqa: E402

FIVE_RULES = {"and": [
    {"field": "status", "op": "in", "value": ["active", "new"]},
    {"field": "priority", "op": "gte", "value": 1},
    {"or": [{"field": "last_name", "op": "startswith", "value": "S"},
            {"field": "engagement_score", "op": "gte", "value": 0}]},
    {"not": {"field": "type", "op": "eq", "value": "vendor"}},
    {"field": "created_at", "op": "gte", "value": "2000-01-01T00:00:00Z"},
]}


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label}: {elapsed * 1000:.0f} ms ({result})", flush=True)
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100000)
    args = parser.parse_args()
    contacts = Contact.objects.count()
    print(f"contacts in the database: {contacts}")
    figures = {}
    figures["segment_count_s"], count = timed("segment count (5 rules)",
                                              lambda: segments.segment_queryset(FIVE_RULES).count())
    segment = Segment.objects.create(name="bench five rules", rules=FIVE_RULES, materialized=True)
    contact_list = ContactList.objects.create(name="bench campaign audience")
    template = MessageTemplate.objects.create(name=f"bench {time.time()}", purpose="newsletter",
                                              subject="Hi {{ contact.first_name }}", text_body="News")
    try:
        figures["segment_materialize_s"], result = timed(
            "segment materialize", lambda: services.segment_refresh(segment_id=segment.pk))
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {ListMembership._meta.db_table} (contact_list_id, contact_id, added_at) "
                           f"SELECT %s, id, now() FROM {Contact._meta.db_table} LIMIT %s",
                           [contact_list.pk, args.recipients])
        campaign = campaigns.campaign_create(data={"name": "bench", "purpose": "newsletter",
                                                   "message_template": str(template.pk),
                                                   "include_lists": [str(contact_list.pk)]})

        def materialize():
            with transaction.atomic():
                return campaigns._materialize(Campaign.objects.get(pk=campaign.pk))

        figures["campaign_materialize_s"], rows = timed(f"campaign materialize ({args.recipients} recipients)",
                                                        materialize)
        pending = CampaignRecipient.objects.filter(campaign=campaign, status="pending").count()
        print(f"  of which pending: {pending}, skipped: {rows - pending}")
    finally:
        Campaign.objects.filter(name="bench", message_template=template).delete()
        segment.delete()
        contact_list.delete()
        template.delete()
    targets = {"segment_count_s": 2.0, "segment_materialize_s": 5.0, "campaign_materialize_s": 10.0}
    print("\n| figure | measured | target | |\n|---|---|---|---|")
    for key, limit in targets.items():
        print(f"| {key} | {figures[key]:.2f} s | ≤ {limit:g} s | {'PASS' if figures[key] <= limit else 'MISS'} |")
    print(f"(at {contacts} contacts; segment size {count})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
