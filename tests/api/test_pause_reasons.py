"""/pause-reasons: supervisors list, add, rename, retire and restore the pause reasons;
each reason keeps its phone code *2N. (Who may: tests/api/test_access.py; the agent phone
with retired reasons: tests/queues/test_agent_phone.py.)"""

from __future__ import annotations

from tests.api.support import Api


async def test_reasons_are_listed_added_renamed_retired_and_restored(api: Api) -> None:
    sup = api.auth("supervisor")
    listed = (await api.client.get("/pause-reasons", headers=sup)).json()
    # The agents' reasons in use fill the empty table, in their order.
    assert [(r["code"], r["phone_code"]) for r in listed] == [("break", "*21"), ("meal", "*22")]

    added = await api.client.post(
        "/pause-reasons", json={"code": "meeting", "label": "Họp <giao ban>"}, headers=sup
    )
    assert added.status_code == 201, added.text
    assert added.json()["phone_code"] == "*23" and added.json()["label"] == "Họp <giao ban>"
    again = await api.client.post(
        "/pause-reasons", json={"code": "meeting", "label": "Khác"}, headers=sup
    )
    assert again.status_code == 409

    retired = await api.client.patch("/pause-reasons/meal", json={"retired": True}, headers=sup)
    assert retired.json()["retired"] is True and retired.json()["phone_code"] == "*22"
    renamed = await api.client.patch(
        "/pause-reasons/break", json={"label": "Nghỉ giữa ca"}, headers=sup
    )
    assert renamed.json()["label"] == "Nghỉ giữa ca"
    assert renamed.json()["updated_by"] == "user supervisor user"
    restored = await api.client.patch("/pause-reasons/meal", json={"retired": False}, headers=sup)
    assert restored.json()["retired"] is False
    assert api.control.reasons_loaded == 4  # the agents' service read each change

    for body in ({"code": "X", "label": "a"}, {"code": "ok", "label": "  "}, {"code": "ok"}):
        bad = await api.client.post("/pause-reasons", json=body, headers=sup)
        assert bad.status_code == 422, body
    bad = await api.client.patch("/pause-reasons/meal", json={"label": "a\x00"}, headers=sup)
    assert bad.status_code == 422
    missing = await api.client.patch("/pause-reasons/none", json={"retired": True}, headers=sup)
    assert missing.status_code == 404
