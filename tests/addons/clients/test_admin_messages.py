"""Live sync messages (``messages/``): not stored by this server yet, so always empty."""

from __future__ import annotations

API = "/api/v1/token"


def test_empty_page_for_any_administrator(client):
    for role in ("admin", "reader", "nobody"):
        response = client.get(f"{API}/messages/", as_=role)
        assert response.status_int == 200
        assert response.json == {"count": 0, "next": None, "previous": None, "results": []}
    assert client.get(f"{API}/messages/?page=3&project__id=1").json["count"] == 0
    assert client.get(f"{API}/messages/", as_="anonymous").status_int == 401


def test_delete_answers_404(client, make):
    computer = make.computer()
    response = client.delete(f"{API}/messages/{computer.id}/", as_="reader")
    assert response.status_int == 404
    assert response.json["status"] == "error"
    assert client.delete(f"{API}/messages/{computer.id}/", as_="anonymous").status_int == 401


def test_export_has_only_the_header(client):
    response = client.get(f"{API}/messages/export/", as_="reader")
    assert response.content_type == "text/csv"
    assert 'filename="messages.csv"' in response.headers["Content-Disposition"]
    assert response.text.splitlines() == [
        "created_at,computer__id,computer____str__,computer__status,computer__summary,"
        "project__id,project__name,user__id,user__name,message"
    ]
