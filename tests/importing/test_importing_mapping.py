"""Column recognition and value vocabularies (pure, no files)."""

from __future__ import annotations

import pytest

from leadflow.core.lifecycle import LeadStatus, Stage
from leadflow.services.importing.mapping import (
    ALIASES,
    FIELDS,
    LEAD_STATUS_VALUES,
    STAGE_VALUES,
    MappingError,
    map_lead_status,
    map_result,
    map_stage,
    normalize_name,
    property_slug,
    resolve_columns,
)
from leadflow.services.importing.readers import RECORD_KEYS

HUBSPOT_CONTACTS = [
    "Record ID", "Email", "First Name", "Last Name", "Job Title", "Phone Number", "Country/Region",
    "Lifecycle Stage", "Lead Status", "Original Source", "Company Name", "Company Domain Name", "Industry",
    "Number of Employees", "Annual Revenue", "Contact owner", "Create Date",
]

SALESFORCE_LEADS = [
    "Id", "Email", "FirstName", "LastName", "Title", "Phone", "Country", "LeadSource", "Status", "Company",
    "Industry", "NumberOfEmployees", "AnnualRevenue", "OwnerId", "CreatedDate", "Website", "HasOptedOutOfEmail",
]


def test_hubspot_contact_export_headers() -> None:
    cols = resolve_columns(HUBSPOT_CONTACTS, "leads")
    assert cols == {
        "Record ID": "properties.record_id",
        "Email": "email",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Job Title": "title",
        "Phone Number": "phone",
        "Country/Region": "country",
        "Lifecycle Stage": "stage",
        "Lead Status": "lead_status",
        "Original Source": "source",
        "Company Name": "company_name",
        "Company Domain Name": "company_domain",
        "Industry": "properties.industry",
        "Number of Employees": "properties.employee_count",
        "Annual Revenue": "properties.annual_revenue",
        "Contact owner": "owner",
        "Create Date": "created_at",
    }


def test_salesforce_lead_export_headers() -> None:
    cols = resolve_columns(SALESFORCE_LEADS, "leads")
    assert cols == {
        "Id": "properties.id",
        "Email": "email",
        "FirstName": "first_name",
        "LastName": "last_name",
        "Title": "title",
        "Phone": "phone",
        "Country": "country",
        "LeadSource": "source",
        "Status": "lead_status",
        "Company": "company_name",
        "Industry": "properties.industry",
        "NumberOfEmployees": "properties.employee_count",
        "AnnualRevenue": "properties.annual_revenue",
        "OwnerId": "owner",
        "CreatedDate": "created_at",
        "Website": "company_domain",
        "HasOptedOutOfEmail": "unsubscribed",
    }


def test_account_headers_hubspot_and_salesforce() -> None:
    hub = resolve_columns(["Name", "Company Domain Name", "Industry", "Number of Employees", "Annual Revenue",
                           "Country/Region", "Company owner"], "accounts")
    assert list(hub.values()) == ["name", "domain", "industry", "employee_count", "annual_revenue", "country", "owner"]
    sf = resolve_columns(["Name", "Website", "NumberOfEmployees", "AnnualRevenue", "BillingCountry", "OwnerId"],
                         "accounts")
    assert list(sf.values()) == ["name", "domain", "employee_count", "annual_revenue", "country", "owner"]


def test_leadflow_names_case_space_underscore_insensitive() -> None:
    cols = resolve_columns(["EMAIL", "first_name", "Landing Page", "company-domain", " utm_campaign "], "leads")
    assert list(cols.values()) == ["email", "first_name", "landing_page", "company_domain", "campaign"]
    assert normalize_name("Number_of employees") == normalize_name("NumberOfEmployees")


def test_every_field_recognised_by_its_own_name() -> None:
    for kind, fields in FIELDS.items():
        assert resolve_columns(fields, kind) == {f: f for f in fields}
        for target in ALIASES[kind].values():
            assert target in fields or target.startswith("properties")
    # every record key but the ones the reader fills itself can come from a column
    assert set(RECORD_KEYS["leads"]) - set(FIELDS["leads"]) == {"properties"}
    assert set(RECORD_KEYS["outcomes"]) == set(FIELDS["outcomes"])


def test_unknown_columns_become_properties_except_for_outcomes() -> None:
    assert resolve_columns(["Favourite Colour", "favourite colour!"], "leads") == {
        "Favourite Colour": "properties.favourite_colour",
        "favourite colour!": "properties.favourite_colour_2",
    }
    assert resolve_columns(["Budget__c"], "accounts") == {"Budget__c": "properties.budget__c"}
    assert resolve_columns(["Email", "Pipeline"], "outcomes") == {"Email": "email", "Pipeline": None}


def test_user_mapping_overrides_and_validates() -> None:
    cols = resolve_columns(["E-Mail Adresse", "Email", "Notes", "Seats"], "leads",
                           {"E-Mail Adresse": "email", "email": None, "notes": "properties.remarks",
                            "Seats": "employee_count"})
    assert cols == {"E-Mail Adresse": "email", "Email": None, "Notes": "properties.remarks",
                    "Seats": "properties.employee_count"}
    with pytest.raises(MappingError, match="'emial' is not a leads field"):
        resolve_columns(["x"], "leads", {"x": "emial"})
    with pytest.raises(MappingError):
        resolve_columns(["x"], "outcomes", {"x": "properties.foo"})
    with pytest.raises(ValueError, match="unknown import kind"):
        resolve_columns(["x"], "contacts")


def test_property_slug() -> None:
    assert property_slug("  Favourite Colour (2024) ") == "favourite_colour_2024"
    assert property_slug("Prénom") == "prénom"


@pytest.mark.parametrize(
    ("value", "stage"),
    [("subscriber", "subscriber"), ("lead", "lead"), ("marketingqualifiedlead", "mql"),
     ("Marketing Qualified Lead", "mql"), ("salesqualifiedlead", "sql"), ("opportunity", "opportunity"),
     ("Customer", "customer"), ("other", None), ("SAL", "sal"), ("nurture", "nurture"),
     ("disqualified", "disqualified")],
)
def test_lifecycle_stage_values(value: str, stage: str | None) -> None:
    assert map_stage(value) == stage


def test_vocabularies_only_name_real_stages_and_statuses() -> None:
    stages = {s.value for s in Stage}
    statuses = {s.value for s in LeadStatus}
    assert {v for v in STAGE_VALUES.values() if v} <= stages
    for status, implied in LEAD_STATUS_VALUES.values():
        assert status is None or status in statuses
        assert implied is None or implied in stages
    with pytest.raises(ValueError, match="'partner' is not a lifecycle stage"):
        map_stage("partner")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Attempted to contact", ("attempting_to_contact", None)), ("Open Deal", ("open_deal", None)),
     ("IN_PROGRESS", ("in_progress", None)), ("Bad timing", ("bad_timing", None)), ("New", ("new", None)),
     ("Open - Not Contacted", ("new", "lead")), ("Working - Contacted", ("in_progress", "sal")),
     ("Closed - Converted", (None, "sql")), ("Closed - Not Converted", ("unqualified", "disqualified"))],
)
def test_lead_status_values(value: str, expected: tuple[str | None, str | None]) -> None:
    assert map_lead_status(value) == expected


def test_result_values() -> None:
    assert [map_result(v) for v in ("Won", "Closed Won", "closedwon", "Lost", "Closed Lost")] == [
        "won", "won", "won", "lost", "lost"]
    with pytest.raises(ValueError, match="not a closed deal result"):
        map_result("Prospecting")
