"""`releasegate windows`: the calendar as JSON, as iCalendar (parsed back), on a terminal,
and its exit codes. The command reads the real clock, so each test places its windows
around the `now` the command reports and checks the answer against the pure calendar."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar as ICalendar
from pydantic import TypeAdapter
from rich.console import Console
from typer.testing import CliRunner

from releasegate import config
from releasegate.cli import app
from releasegate.ics import closed_stretches
from releasegate.policy.calendar import Calendar
from releasegate.policy.wallclock import starts_at, zone
from releasegate.policy.windows import Window
from releasegate.timeline import timeline
from tests.support.toml import table

WINDOWS = TypeAdapter(tuple[Window, ...])
# Hostile text for the feed: RFC 5545 separators, a newline, and multi-byte characters.
ODD_REASON = "Weihnachten, Silvester; Jahreswechsel\nkein Deploy — ünd 🎄 " + "lang " * 12


def write_config(tmp_path: Path, production: dict[str, Any]) -> Path:
    lines = table("app", {"name": "webapp"})
    lines += table("environments.staging", {"url": "http://127.0.0.1:18080"})
    lines += table("environments.production", {"url": "http://127.0.0.1:18081", **production})
    path = tmp_path / "releasegate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(path: Path, *args: str) -> tuple[int, str, bytes]:
    result = CliRunner().invoke(app, ["windows", *args, "--config", str(path)])
    return result.exit_code, result.output, result.stdout_bytes


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def frozen_now(tmp_path: Path) -> tuple[Path, datetime]:
    """Production frozen from an hour ago for two hours, then weeknights in New York, and
    deploys allowed only in New York business hours."""
    now = datetime.now(UTC).replace(microsecond=0)
    path = write_config(
        tmp_path,
        {
            "freeze": [
                {
                    "from": iso(now - timedelta(hours=1)),
                    "until": iso(now + timedelta(hours=2)),
                    "reason": ODD_REASON,
                },
                {
                    "days": "mon-fri",
                    "start": "22:00",
                    "end": "06:00",
                    "timezone": "America/New_York",
                    "reason": "weeknights",
                },
            ],
            "allow": [
                {
                    "days": "mon-fri",
                    "start": "09:00",
                    "end": "17:00",
                    "timezone": "America/New_York",
                    "reason": "business hours",
                }
            ],
        },
    )
    return path, now


def test_json_says_closed_now_until_when_and_the_intervals_as_the_gate_sees_them(
    frozen_now: tuple[Path, datetime],
) -> None:
    path, frozen_at = frozen_now
    code, output, _ = run(path, "production", "--json", "--days", "3")
    assert code == 0, output
    report = json.loads(output)
    now = datetime.fromisoformat(report["now"])
    assert report["environment"] == "production" and report["open_now"] is False
    assert ODD_REASON in report["reasons"]
    # The same answer as the calendar the freeze gate reads, at the same instant.
    calendar = config.load(path).environments["production"].calendar
    status = calendar.status(now)
    assert report["until"] == (iso(status.until) if status.until else None)
    assert status.until is not None and status.until >= frozen_at + timedelta(hours=2)
    intervals = [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]), i["open"])
        for i in report["intervals"]
    ]
    assert intervals == [
        (i.start, i.end, i.open) for i in calendar.intervals(now, now + timedelta(days=3))
    ]
    assert intervals[0][0] == now and intervals[-1][1] == now + timedelta(days=3)
    # Business hours come back within three days, whenever the test runs.
    opening = next(start for start, _, is_open in intervals if is_open)
    assert opening == status.until


def test_ics_export_parses_back_to_the_closed_intervals_with_stable_uids(
    frozen_now: tuple[Path, datetime],
) -> None:
    path, _ = frozen_now
    code, output, raw = run(path, "production", "--ics", "--days", "10")
    assert code == 0, output
    lines = raw.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in lines) <= 75  # folded at 75 octets
    feed = ICalendar.from_ical(raw)
    assert feed["VERSION"] == "2.0" and feed["PRODID"]
    events = list(feed.walk("VEVENT"))
    stamp = events[0].decoded("DTSTAMP")
    calendar = config.load(path).environments["production"].calendar
    intervals = calendar.intervals(stamp - timedelta(days=31), stamp + timedelta(days=10))
    closed = [i for i in closed_stretches(intervals) if i.end > stamp]
    assert [(e.decoded("DTSTART"), e.decoded("DTEND")) for e in events] == [
        (i.start, i.end) for i in closed
    ]
    # Back-to-back closed intervals are one event: events never touch.
    assert all(a.end < b.start for a, b in pairwise(closed))
    assert all(line.endswith(b"Z") for line in lines if line.startswith((b"DTSTART", b"DTEND")))
    # The first event is the closed stretch under way: it began where deploying closed
    # (at or before the freeze an hour ago), and escaping survives the round trip.
    first = events[0]
    began = first.decoded("DTSTART")
    assert began <= stamp - timedelta(hours=1)
    assert calendar.status(began - timedelta(microseconds=1)).open_now
    assert calendar.status(began).until == first.decoded("DTEND")
    assert ODD_REASON in str(first["SUMMARY"])
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    # Exported again, the same stretches keep their UIDs (the last may have grown).
    _, _, again = run(path, "production", "--ics", "--days", "10")
    assert [str(e["UID"]) for e in ICalendar.from_ical(again).walk("VEVENT")][:-1] == uids[:-1]


def test_terminal_timeline_names_state_reason_and_until(
    frozen_now: tuple[Path, datetime],
) -> None:
    path, _ = frozen_now
    # Four days: the longest stretch without business hours (Friday 17:00 to Monday 09:00,
    # 64 h) is longer than two, and with two the test failed on a Friday afternoon.
    code, output, _ = run(path, "--days", "4", "--timezone", "America/New_York")
    assert code == 0, output
    assert "production: deploying is CLOSED now" in output and " until " in output
    assert "Weihnachten, Silvester" in output
    assert "America/New_York" in output and "business hours" in output
    assert "█" in output  # the timeline


def test_open_environment_without_windows(tmp_path: Path) -> None:
    code, output, _ = run(write_config(tmp_path, {}), "staging", "--json")
    report = json.loads(output)
    assert code == 0 and report["open_now"] is True and report["until"] is None
    assert [i["open"] for i in report["intervals"]] == [True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no environment 'nope'"),
        (["--json", "--ics"], "choose one"),
        (["--timezone", "Mars/Base"], "'Mars/Base' is not a known IANA time zone"),
        (["--days", "0"], "--days"),
        (["--days", "400"], "--days"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, output, _ = run(write_config(tmp_path, {}), *args)
    assert code == 2 and message in output


def test_bad_window_exits_2_naming_file_key_and_reason(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"freeze": [{"holidays": "US", "subdivision": "ZZ"}]})
    code, output, _ = run(path, "production")
    assert code == 2
    assert str(path) in output and "environments.production.freeze.0.holidays" in output
    assert "'ZZ' is not a subdivision of US" in output


def test_installed_command_prints_json_and_no_traceback_on_errors(tmp_path: Path) -> None:
    path = write_config(tmp_path, {})
    command = [str(Path(sys.executable).with_name("releasegate")), "windows", "--config", str(path)]
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["environment"] == "production"
    bad = subprocess.run([*command, "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no environment 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_timeline_shows_the_skipped_hour_blank_and_a_change_inside_a_cell() -> None:
    # Berlin skips 02:00-03:00 on 2026-03-29; closed 10:00-10:15 CEST splits one cell.
    berlin = zone("Europe/Berlin")
    calendar = Calendar(
        freeze=WINDOWS.validate_python(
            [{"days": "sun", "start": "10:00", "end": "10:15", "timezone": "Europe/Berlin"}]
        )
    )
    day = datetime(2026, 3, 29)
    intervals = calendar.intervals(
        starts_at(day, berlin), starts_at(day + timedelta(days=1), berlin)
    )
    console = Console(width=120, record=True, color_system=None)
    console.print(timeline(intervals, berlin))
    row = next(line for line in console.export_text().splitlines() if "Sun 29 Mar" in line)
    cells = row.split("Sun 29 Mar", 1)[1].strip()
    assert cells == "░" * 4 + "  " + "░" * 14 + "▒" + "░" * 27
