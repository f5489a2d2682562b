"""The OpenAPI document: described, tagged, and declaring the bearer scheme."""

from __future__ import annotations

from tests.api.support import Api


async def test_openapi_describes_the_api(api: Api) -> None:
    response = await api.client.get("/openapi.json")

    assert response.status_code == 200
    doc = response.json()
    assert "1022" in doc["info"]["title"]
    assert "Tóm tắt (tiếng Việt)" in doc["info"]["description"]
    assert [tag["name"] for tag in doc["tags"]] == [
        "health",
        "calls",
        "queues",
        "agents",
        "places",
        "ivr",
        "staffing",
        "stats",
        "callbacks",
        "incidents",
        "monitoring",
        "users",
        "auth",
        "events",
        "wallboard",
        "conferences",
        "recordings",
        "monitor",
    ]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert doc["paths"]["/calls"]["get"]["tags"] == ["calls"]
    assert "security" not in doc["paths"]["/health"]["get"]
    assert doc["paths"]["/calls"]["get"]["security"] == [{"HTTPBearer": []}]
    stream = doc["paths"]["/events"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]


async def test_docs_page_is_served(api: Api) -> None:
    response = await api.client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()
