"""Property tests for contact validation: phones, emails, names, and no 500 for any JSON value of any field."""
import string

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contacts import services
from contacts.models import Contact
from contacts.services import CONTACT_FIELDS
from contacts.tests.factories import ContactFactory
from contacts.validation import normalize_email, normalize_phone
from contacts_project.errors import InvalidInput

REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)
FORMATS = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
           phonenumbers.PhoneNumberFormat.RFC3966]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


# --------------------------------------------------------------------------- phones
@given(region=st.sampled_from(REGIONS), fmt=st.sampled_from(FORMATS))
def test_any_valid_number_in_any_notation_normalizes_to_its_e164(region, fmt):
    number = phonenumbers.example_number(region)
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, fmt)
    assert normalize_phone(written) == expected
    assert normalize_phone(expected) == expected  # idempotent


@given(region=st.sampled_from(REGIONS))
def test_national_notation_uses_the_given_region(region):
    number = phonenumbers.example_number(region)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region) == phonenumbers.format_number(number,
                                                                           phonenumbers.PhoneNumberFormat.E164)


@given(st.text(max_size=40))
def test_phone_normalization_either_gives_e164_or_a_reason(raw):
    try:
        result = normalize_phone(raw)
    except ValueError as exc:
        assert str(exc)
        return
    assert result == "" or (result.startswith("+") and result[1:].isdigit() and len(result) <= 16)
    if result:
        assert normalize_phone(result) == result


@given(st.text(alphabet=string.ascii_letters + " !?", min_size=1, max_size=20))
def test_words_are_never_phone_numbers(raw):
    assume(raw.strip())
    with pytest.raises(ValueError):
        normalize_phone(raw)


# --------------------------------------------------------------------------- emails
local_parts = st.text(alphabet=string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)
domains = st.lists(st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=10), min_size=1,
                   max_size=3).map(lambda labels: ".".join([*labels, "com"]))


@given(local=local_parts, domain=domains)
def test_valid_emails_keep_the_local_part_and_lower_the_domain(local, domain):
    result = normalize_email(f"  {local}@{domain}  ")
    assert result == f"{local}@{domain.lower()}"
    assert normalize_email(result) == result


@given(st.text(max_size=60))
def test_email_normalization_either_succeeds_or_raises_validation_error(raw):
    try:
        result = normalize_email(raw)
    except ValidationError:
        return
    assert result == "" or "@" in result


# --------------------------------------------------------------------------- names and every field, via the API
@pytest.mark.django_db
@FAST
@given(first=st.text(max_size=120), last=st.text(max_size=120))
def test_names_are_trimmed_limited_and_never_crash(first, last):
    try:
        contact = services.contact_create(data={"first_name": first, "last_name": last})
    except InvalidInput as exc:
        fields = {e.field for e in exc.errors}
        assert fields <= {"first_name", "last_name"}
        assert (not first.strip() and not last.strip()) or len(first.strip()) > 100 or len(last.strip()) > 100 \
            or "\x00" in first + last
        return
    assert contact.first_name == first.strip() and contact.last_name == last.strip()
    assert contact.first_name or contact.last_name


@pytest.mark.django_db
@FAST
@given(field=st.sampled_from([*CONTACT_FIELDS, "template", "unknown"]), value=json_values)
def test_the_api_never_500s_on_any_json_value_of_any_field(api, field, value):
    response = api.post("/api/v1/contacts/", {"last_name": "Fuzz", field: value}, format="json")
    assert response.status_code in (201, 400), (field, value, response.content[:300])
    if response.status_code == 400:
        assert response["Content-Type"] == "application/problem+json" and response.json()["errors"]


@pytest.mark.django_db
@FAST
@given(field=st.sampled_from(CONTACT_FIELDS), value=json_values)
def test_patch_never_500s_on_any_json_value(api, field, value):
    contact = Contact.objects.filter(last_name="PatchTarget").first() or ContactFactory(last_name="PatchTarget")
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {field: value}, format="json")
    assert response.status_code in (200, 400, 409), (field, value, response.content[:300])


@pytest.mark.django_db
@FAST
@given(body=st.dictionaries(st.sampled_from(["status", "reason", "x"]), json_values, max_size=3))
def test_status_endpoint_never_500s(api, body):
    contact = Contact.objects.filter(last_name="StatusTarget").first() or ContactFactory(last_name="StatusTarget")
    response = api.post(f"/api/v1/contacts/{contact.pk}/status/", body, format="json")
    assert response.status_code in (200, 400, 409), (body, response.content[:300])


@pytest.mark.django_db
@FAST
@given(params=st.dictionaries(st.sampled_from(["status", "type", "organization", "owner", "created_after", "search",
                                               "ordering", "page_size", "cursor", "group", "tag", "phone"]),
                              st.text(max_size=30), max_size=3))
def test_list_never_500s_on_any_query(api, params):
    response = api.get("/api/v1/contacts/", params)
    assert response.status_code in (200, 400), (params, response.content[:300])
