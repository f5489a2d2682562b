from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pbx.cdr import read_recent_calls

HEAD = '"","{src}","1022","citizens","""{name}"" <{src}>","PJSIP/pstn-0000{n}"'
ROWS = [
    # answered by agent01 (the bridge row names the agent's channel)
    HEAD + ',"PJSIP/agent01-0000000b","Queue","food-724","2026-11-22 05:00:00",'
    '"2026-11-22 05:00:00","2026-11-22 05:03:10",190,190,"ANSWERED","DOCUMENTATION","u1",""',
    # gave up in the queue
    HEAD + ',"","Queue","operator","2026-11-22 05:01:00","2026-11-22 05:01:00",'
    '"2026-11-22 05:01:40",40,40,"ANSWERED","DOCUMENTATION","u2",""',
    # hung up in the menu (AGI), before the window: left out
    HEAD + ',"","AGI","agi://x","2026-11-22 03:00:00","2026-11-22 03:00:00",'
    '"2026-11-22 03:00:09",9,9,"ANSWERED","DOCUMENTATION","u0",""',
    # another extension: left out
    '"","0909","1023","citizens","","PJSIP/pstn-1","","Hangup","","2026-11-22 05:02:00",'
    '"","2026-11-22 05:02:05",5,0,"NO ANSWER","DOCUMENTATION","u3",""',
]


def test_recent_citizen_calls_folded_per_channel(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    lines = [
        ROWS[0].format(src="0901", name="Nguyễn Văn An", n=1),
        ROWS[1].format(src="0902", name="Lê Thị Bình", n=2),
        ROWS[2].format(src="0903", name="X", n=3),
        ROWS[3],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls = read_recent_calls(path, since=datetime(2026, 11, 22, 4, tzinfo=UTC))
    assert [(c.uniqueid, c.caller_number, c.agent_endpoint, c.last_app) for c in calls] == [
        ("u1", "0901", "agent01", "Queue"),
        ("u2", "0902", None, "Queue"),
    ]
    assert calls[0].caller_name == "Nguyễn Văn An"
    assert calls[1].end == datetime(2026, 11, 22, 5, 1, 40, tzinfo=UTC)


def test_tail_only_and_missing_file(tmp_path: Path) -> None:
    assert read_recent_calls(tmp_path / "none.csv", since=datetime(2026, 1, 1, tzinfo=UTC)) == []
    path = tmp_path / "Master.csv"
    row = ROWS[1].format(src="0902", name="B", n=2)
    path.write_text((row + "\n") * 50, encoding="utf-8")
    calls = read_recent_calls(path, since=datetime(2026, 1, 1, tzinfo=UTC), tail_bytes=len(row) * 3)
    assert len(calls) == 1  # a partial first line is dropped, not misread
