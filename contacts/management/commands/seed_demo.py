"""Demo data: realistic contacts, organizations (with a hierarchy), categories, types, groups and a template."""
from __future__ import annotations

import random

from django.core.management.base import BaseCommand
from django.db import transaction
from faker import Faker

from contacts.choices import ContactStatus
from contacts.models import Contact, ContactCategory, ContactGroup, ContactTemplate, GroupMembership
from contacts_project.audit import audited
from organization.models import Category, ContactType, Organization

TYPES = [("person", "Person"), ("customer", "Customer"), ("lead", "Lead"), ("partner", "Partner"),
         ("vendor", "Vendor")]
CATEGORIES = {"Industry": ["Software", "Manufacturing", "Retail", "Finance", "Healthcare"],
              "Region": ["Europe", "North America", "Asia-Pacific"], "Partners": ["Resellers", "Integrators"]}
TAGS = ["vip", "newsletter", "event-2026", "trial", "churn-risk", "referral"]
LOCALES = [("en_US", "US", "America/New_York", "en-US"), ("fr_FR", "FR", "Europe/Paris", "fr-FR"),
           ("de_DE", "DE", "Europe/Berlin", "de-DE"), ("en_GB", "GB", "Europe/London", "en-GB"),
           ("es_ES", "ES", "Europe/Madrid", "es-ES")]


class Command(BaseCommand):
    help = "Load demo contacts, organizations, categories, types and groups (with --once: only into an empty database)."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=3000)
        parser.add_argument("--once", action="store_true", help="Do nothing if contacts exist already.")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, contacts: int, once: bool, seed: int, **options):
        if once and Contact.objects.exists():
            self.stdout.write("demo data already loaded; skipping")
            return
        rng = random.Random(seed)
        Faker.seed(seed)
        fakers = [(Faker(loc), region, tz, tag) for loc, region, tz, tag in LOCALES]
        with transaction.atomic(), audited(None, "seed_demo"):
            for key, label in TYPES:
                ContactType.objects.get_or_create(key=key, defaults={"label": label})
            leaves = []
            for root_name, children in CATEGORIES.items():
                root, _ = Category.objects.get_or_create(name=root_name, parent=None)
                for child in children:
                    leaf, _ = Category.objects.get_or_create(name=child, parent=root)
                    leaves.append(leaf)
            n_orgs = max(10, contacts // 25)
            orgs = []
            for i in range(n_orgs):
                fake = fakers[i % len(fakers)][0]
                name = fake.company()
                orgs.append(Organization(name=f"{name} {i}" if i >= len(fakers) * 50 else name,
                                         domain=f"{fake.domain_word()}{i}.example.com",
                                         category=rng.choice(leaves)))
            Organization.objects.bulk_create(orgs)
            for org in orgs[10:]:  # a corporate-group hierarchy: some organizations have a parent
                if rng.random() < 0.2:
                    org.parent = rng.choice(orgs[:10])
            Organization.objects.bulk_update(orgs[10:], ["parent"])
            ContactTemplate.objects.get_or_create(name="Customer", defaults={
                "contact_type_id": "customer", "defaults": {"status": "active"}, "required_fields": ["email"],
                "custom_fields": [{"key": "account_tier", "label": "Account tier", "type": "choice",
                                   "choices": ["bronze", "silver", "gold"], "required": False},
                                  {"key": "annual_revenue", "label": "Annual revenue", "type": "number"}]})
            rows = []
            for i in range(contacts):
                fake, region, tz, locale = fakers[i % len(fakers)]
                first, last = fake.first_name(), fake.last_name()
                rows.append(Contact(
                    first_name=first, last_name=last,
                    email=f"{first}.{last}.{i}@{rng.choice(orgs).domain}".lower().replace(" ", ""),
                    phone=f"+1415555{i % 10000:04d}" if region == "US" else "",
                    organization=rng.choice(orgs) if rng.random() < 0.9 else None,
                    type_id=rng.choice(TYPES)[0], status=rng.choice(ContactStatus.values),
                    job_title=fake.job()[:150], timezone=tz, locale=locale, priority=rng.choice([0, 1, 1, 1, 2, 3]),
                    tags=rng.sample(TAGS, k=rng.choice([0, 0, 1, 2])),
                    custom_fields={"source": rng.choice(["web", "event", "referral", "import"])},
                ))
            Contact.objects.bulk_create(rows, batch_size=2000)
            ContactCategory.objects.bulk_create(
                [ContactCategory(contact=c, category=rng.choice(leaves)) for c in rows if rng.random() < 0.5],
                ignore_conflicts=True, batch_size=5000)
            for name in ("Newsletter", "Customers EMEA", "Conference 2026", "Board", "Beta testers"):
                group = ContactGroup.objects.create(name=name, description=f"Demo group: {name}",
                                                    organization=rng.choice(orgs) if name == "Board" else None)
                members = rng.sample(rows, k=min(len(rows), rng.randint(5, max(6, contacts // 10))))
                GroupMembership.objects.bulk_create([GroupMembership(group=group, contact=c) for c in members],
                                                    ignore_conflicts=True, batch_size=5000)
        self.stdout.write(self.style.SUCCESS(f"loaded {contacts} contacts, {n_orgs} organizations, 5 groups"))
