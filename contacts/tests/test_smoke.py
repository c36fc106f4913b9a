def test_create_and_get(api):
    r = api.post("/api/v1/contacts/", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                       "phone": "+1 415 555 0101"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["phone"] == "+14155550101"
    r2 = api.get(f"/api/v1/contacts/{r.json()['id']}/")
    assert r2.status_code == 200
    assert r2.json()["email"] == "ada@example.com"
