"""The platform's contact table as an unmanaged model: the columns, no relations, no migrations."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Value
from uuid6 import uuid7


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    email = models.EmailField(max_length=254, blank=True, default="")
    phone = models.CharField(max_length=20, blank=True, default="")
    organization_id = models.UUIDField(null=True, blank=True)
    type = models.CharField(max_length=50, null=True, blank=True, db_column="type")
    status = models.CharField(max_length=20, default="new")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    job_title = models.CharField(max_length=150, blank=True, default="")
    owner_id = models.IntegerField(null=True, blank=True)
    team_id = models.UUIDField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True, default="")
    locale = models.CharField(max_length=16, blank=True, default="")
    priority = models.SmallIntegerField(default=1)
    custom_fields = models.JSONField(default=dict, blank=True)
    reports_to_id = models.UUIDField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    template_id = models.UUIDField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    last_engaged_at = models.DateTimeField(null=True, blank=True)
    engagement_score = models.FloatField(default=0)
    # computed by PostgreSQL (the platform's migration defines it); never written from here
    search_text = models.GeneratedField(expression=Value(""), output_field=models.TextField(), db_persist=True)

    class Meta:
        managed = False
        db_table = "contacts_contact"
