"""Leads, accounts, outcomes: CRUD, filters, keyset pagination, explanation, timeline, manual changes."""

from __future__ import annotations

from api_helpers import seed


def test_create_get_update_and_conflict(api):
    h = api.acme.h
    r = api.client.post("/v1/leads", json={"email": "New@Acme.io", "first_name": "Nia", "title": "CMO",
                                           "company_domain": "acme.io"}, headers=h)
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["email"] == "new@acme.io" and lead["account"]["domain"] == "acme.io"
    assert r.headers["location"] == f"/v1/leads/{lead['id']}"
    assert lead["score"]["grade"] in "ABCD"
    r = api.client.post("/v1/leads", json={"email": "new@acme.io"}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "body.email"
    r = api.client.patch(f"/v1/leads/{lead['id']}", json={"last_name": "Ode", "owner": "rep@us.io"}, headers=h)
    assert r.status_code == 200 and r.json()["last_name"] == "Ode" and r.json()["first_name"] == "Nia"
    assert api.client.get(f"/v1/leads/{lead['id']}", headers=h).json()["owner"] == "rep@us.io"
    r = api.client.post("/v1/leads", json={"email": "not-an-email"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.email"
    r = api.client.post("/v1/leads", json={"email": "x@y.io", "first_name": "x" * 201}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.first_name"
    r = api.client.post("/v1/leads", json={"email": "x@y.io", "shoe_size": 44}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.shoe_size"


def test_filters_sort_and_keyset_pagination(api):
    ids = seed(api)
    h = api.acme.h
    assert len(ids) == 4
    by_score = api.client.get("/v1/leads", params={"sort": "-score", "limit": 10}, headers=h).json()["items"]
    scores = [i["score"]["engagement"] for i in by_score]
    assert scores == sorted(scores, reverse=True) and by_score[0]["email"] == "ana@acme.io"
    # pages of 1 in every sort walk every lead once, in order
    for sort in ("created_at", "-created_at", "email", "-email", "score", "-score", "fit", "updated_at"):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = api.client.get("/v1/leads", params=params, headers=h).json()
            seen += [i["email"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids), sort
        if sort in ("email", "-email"):
            assert seen == sorted(seen, reverse=sort.startswith("-"))
    hi = api.client.get("/v1/leads", params={"score_min": scores[1] + 1e-9}, headers=h).json()["items"]
    assert [i["email"] for i in hi] == ["ana@acme.io"]
    assert api.client.get("/v1/leads", params={"q": "GAMMA"}, headers=h).json()["items"][0]["email"] == "cy@gamma.io"
    assert api.client.get("/v1/leads", params={"q": "%"}, headers=h).json()["items"] == []
    st = api.client.get("/v1/leads", params={"stage": ["subscriber", "lead", "mql"]}, headers=h).json()["items"]
    assert len(st) == 4
    grades = {i["score"]["grade"] for i in by_score}
    g = sorted(grades)[0]
    assert all(i["score"]["grade"] == g for i in api.client.get("/v1/leads", params={"grade": g},
                                                                headers=h).json()["items"])
    r = api.client.get("/v1/leads", params={"cursor": "garbage"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor"
    r = api.client.get("/v1/leads", params={"stage": "bogus"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("query.stage")


def test_explanation_timeline_stage_and_status(api):
    ids = seed(api)
    h = api.acme.h
    lid = ids["ana@acme.io"]
    x = api.client.get(f"/v1/leads/{lid}/explanation", headers=h).json()
    assert x["email"] == "ana@acme.io" and x["fit"]["grade"] in "ABCD"
    assert sum(len(r["events"]) for r in x["engagement"]["rules"]) >= 1
    tl = api.client.get(f"/v1/leads/{lid}/timeline", headers=h).json()
    assert sum(1 for i in tl["items"] if i["kind"] == "event") == 7  # identify + 6 page views
    assert len(tl["score_history"]) >= 2
    ats = [i["at"] for i in tl["items"]]
    assert ats == sorted(ats, reverse=True)
    r = api.client.post(f"/v1/leads/{lid}/stage", json={"stage": "customer", "reason": "jump"}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "stage"
    r = api.client.post(f"/v1/leads/{lid}/stage", json={"stage": "disqualified", "reason": ""}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reason"
    r = api.client.post(f"/v1/leads/{lid}/stage", json={"stage": "disqualified", "reason": "student"}, headers=h)
    assert r.status_code == 200 and r.json()["stage"] == "disqualified"
    tl = api.client.get(f"/v1/leads/{lid}/timeline", headers=h).json()
    manual = [i for i in tl["items"] if i["kind"] == "stage_change" and i["actor"] == "user"]
    assert manual[0]["reason"] == "student" and manual[0]["actor_id"].startswith("key:")
    r = api.client.post(f"/v1/leads/{lid}/status", json={"status": "unqualified", "reason": "no budget"}, headers=h)
    assert r.status_code == 200 and r.json()["lead_status"] == "unqualified"
    assert r.json()["properties"]["status_reason"] == "no budget"


def test_accounts_and_outcomes(api):
    seed(api)
    h = api.acme.h
    r = api.client.put("/v1/accounts", json={"domain": "Acme.io", "name": "Acme", "employee_count": 250}, headers=h)
    assert r.status_code == 200 and r.json()["domain"] == "acme.io"
    acc = r.json()
    got = api.client.get(f"/v1/accounts/{acc['id']}", headers=h).json()
    assert got["employee_count"] == 250 and got["leads"] == 1
    r = api.client.patch(f"/v1/accounts/{acc['id']}", json={"industry": "Software"}, headers=h)
    assert r.json()["industry"] == "Software" and r.json()["name"] == "Acme"
    page = api.client.get("/v1/accounts", params={"limit": 2}, headers=h).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    r = api.client.post("/v1/outcomes", json={"outcomes": [{"email": "bob@beta.io", "result": "won", "amount": 1200,
                                                            "currency": "EUR"}]}, headers=h)
    assert r.status_code == 201 and len(r.json()["ids"]) == 1
    lead = api.client.get("/v1/leads", params={"q": "bob@"}, headers=h).json()["items"][0]
    assert lead["stage"] == "customer"
    r = api.client.post("/v1/outcomes", json={"outcomes": [{"email": "ghost@x.io", "result": "won"}]}, headers=h)
    assert r.status_code == 422 and "ghost@x.io" in r.json()["detail"]
    r = api.client.post("/v1/outcomes", json={"outcomes": [{"email": "bob@beta.io", "result": "tie"}]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.outcomes.0.result"
