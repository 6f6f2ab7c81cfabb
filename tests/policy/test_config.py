"""Configuration: loads, overrides from RELEASEGATE_*, and bad files name file, key, reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from releasegate import config
from releasegate.duration import parse_duration
from releasegate.errors import ConfigError
from releasegate.policy.windows import DateRangeWindow
from tests.conftest import REPO

GOOD = """
[app]
name = "webapp"
[groups]
leads = ["alice", "bob", "carol"]
[environments.staging]
url = "http://127.0.0.1:18080"
[environments.production]
requires = "staging"
url = "http://127.0.0.1:18081"
approvals = { required = 2, from = "leads" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "releasegate.toml"
    path.write_text(text)
    return path


def test_shipped_configurations_load() -> None:
    for name in ("releasegate.toml", "production.example.toml"):
        loaded = config.load(REPO / "deployments" / name)
        assert loaded.pipeline() == ["staging", "production"]


def test_pipeline_order_follows_requires_and_paths_resolve_next_to_the_file(
    tmp_path: Path,
) -> None:
    loaded = config.load(write(tmp_path, GOOD))
    assert loaded.pipeline() == ["staging", "production"]
    assert loaded.app.source == tmp_path / "examples/webapp"


def test_environment_variables_override_nested_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER", "90s")
    monkeypatch.setenv("RELEASEGATE_AUDIT", "s3://bucket/trail")
    loaded = config.load(write(tmp_path, GOOD))
    assert loaded.environments["production"].wait_timer.total_seconds() == 90
    assert loaded.audit == "s3://bucket/trail"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASEGATE_CONFIG", str(write(tmp_path, GOOD)))
    assert config.load().app.name == "webapp"


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (
            ('url = "http://127.0.0.1:18081"', 'url = "http://10.0.0.5:80"'),
            "environments.production",
            "127.0.0.1 only",
        ),
        (
            ('requires = "staging"', 'requires = "qa"'),
            "environments.production.requires",
            "no environment 'qa'",
        ),
        (
            ('from = "leads"', 'from = "nobody"'),
            "environments.production.approvals.rules.0",
            "no group 'nobody'",
        ),
        (
            ("required = 2", "required = 0"),
            "environments.production.approvals.rules.0.required",
            "greater than or equal to 1",
        ),
        (
            ("[environments.production]", '[environments.production]\nstrategy = "yolo"'),
            "environments.production.strategy",
            "'rolling', 'blue-green', 'canary' or 'recreate'",
        ),
        (
            ("[environments.production]", '[environments.production]\nwait_timer = "soon"'),
            "environments.production.wait_timer",
            "not a duration",
        ),
        *(
            (
                ("[environments.production]", f"[environments.production]\nwait_timer = {v}"),
                "environments.production.wait_timer",
                "too long",
            )
            # Past what a timedelta holds: an OverflowError, not a ValueError, underneath.
            for v in ('"999999999999d"', '"99999999999999999999"', "inf", "1e300")
        ),
        (
            # Loads as a timedelta, but the run's deadline (now + timeout) is past year 9999.
            (
                'approvals = { required = 2, from = "leads" }',
                'approvals = { required = 2, from = "leads", timeout = "999999999d" }',
            ),
            "environments.production.approvals.timeout",
            "too long",
        ),
        (
            # Appended to http://127.0.0.1:18081, it would name another host.
            (
                "[environments.production]",
                '[environments.production]\nhealth_path = "@elsewhere.example/health"',
            ),
            "environments.production.health_path",
            "String should match pattern '^/'",
        ),
        (
            ("[environments.production]", '[environments.production]\ncolour = "blue"'),
            "environments.production.colour",
            "Extra inputs are not permitted",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nfreeze = [{ days = "mon", start = "22:00" }]',
            ),
            "environments.production.freeze.0",
            "end",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nfreeze = [{ holidays = "XX", reason = "rest" }]',
            ),
            "environments.production.freeze.0.holidays",
            "'XX' is not a country the holidays package knows",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nallow = [{ holidays = "US", subdivision = "QQ" }]',
            ),
            "environments.production.allow.0.holidays",
            "'QQ' is not a subdivision of US",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nallow = [{ cron = "0 9 * * 1-5" }]',
            ),
            "environments.production.allow.0.cron.duration",
            "Field required",
        ),
        (
            (
                'approvals = { required = 2, from = "leads" }',
                'approvals = { required = 2, from = "leads", signed = true }',
            ),
            "environments.production.approvals.signed",
            "needs allowed_signers",
        ),
        (
            ('requires = "staging"', 'requires = "production"'),
            "environments.production.requires",
            "cycle",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nschedule = { cron = "0 10 * *" }',
            ),
            "environments.production.schedule.cron",
            "not a cron expression of 5 fields",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nschedule = { cron = "0 25 * * *" }',
            ),
            "environments.production.schedule.cron",
            "'0 25 * * *' is not a cron expression: ",
        ),
        (
            (
                "[environments.production]",
                '[environments.production]\nschedule = { cron = "0 10 * * *", '
                'timezone = "Mars/Base" }',
            ),
            "environments.production.schedule.timezone",
            "Mars/Base",
        ),
        (
            (
                "[environments.staging]",
                '[environments.staging]\nschedule = { cron = "0 10 * * *" }',
            ),
            "environments.staging.schedule",
            "a release train takes what passed the environment it requires",
        ),
        (("[app]", '[reconcile]\nevery = "0s"\n[app]'), "reconcile.every", "greater than"),
        # Rules that would otherwise fail only after staging changed:
        (
            ("required = 2", "required = 4"),
            "environments.production.approvals.rules.0",
            "4 approvals from 'leads' can never be given: it has 3 member(s)",
        ),
        (
            ("required = 2", "required = 3"),
            "environments.production.approvals.rules.0",
            "can never be given on a run one of them triggers",
        ),
        (
            ('leads = ["alice", "bob", "carol"]', "leads = []"),
            "environments.production.approvals.rules.0",
            "it has 0 member(s)",
        ),
        (
            ('leads = ["alice", "bob", "carol"]', 'leads = ["alice", "bob", "alice", "carol"]'),
            "groups",
            "group 'leads' lists alice more than once",
        ),
        (
            ('leads = ["alice", "bob", "carol"]', 'leads = ["alice", "bob", "carol smith"]'),
            "groups.leads.2",
            "breaks the name rule",
        ),
        (
            ('url = "http://127.0.0.1:18081"', 'url = "http://localhost:18080/"'),
            "environments.production.url",
            "is also the url of environments.staging",
        ),
    ],
)
def test_bad_configuration_names_file_key_and_reason(
    tmp_path: Path, change: tuple[str, str], key: str, reason: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    message = str(caught.value)
    assert key, "every case names the key it is about"
    assert str(path) in message and key in message and reason in message


@pytest.mark.timeout(30)
def test_a_long_bad_duration_is_refused_at_once() -> None:
    # Matched piece by piece, 200 000 digits without a unit took many minutes (quadratic).
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("1" * 200_000 + "x")


def test_allow_and_freeze_windows_of_every_kind_load_from_toml(tmp_path: Path) -> None:
    windows = """
allow = [{ days = "mon-fri", start = "09:00", end = "17:00", timezone = "America/New_York" }]
freeze = [
  { cron = "0 22 * * 1-5", duration = "8h", timezone = "America/New_York", reason = "nightly" },
  { holidays = "US", subdivision = "CA", reason = "public holiday" },
  { from = 2026-12-24T00:00:00, until = 2026-12-27T00:00:00, timezone = "America/New_York" },
  { from = 2026-12-31T00:00:00Z, until = 2027-01-02T00:00:00Z },
]
"""
    text = GOOD.replace("[environments.production]", "[environments.production]" + windows)
    production = config.load(write(tmp_path, text)).environments["production"]
    kinds = [type(w).__name__ for w in production.calendar.freeze + production.calendar.allow]
    assert kinds == [
        "CronWindow",
        "HolidayWindow",
        "DateRangeWindow",
        "DateRangeWindow",
        "WeeklyWindow",
    ]
    # A TOML local date-time is wall-clock time in the window's zone: EST, UTC-5.
    holiday_freeze = production.freeze[2]
    assert isinstance(holiday_freeze, DateRangeWindow)
    assert holiday_freeze.from_ == datetime(2026, 12, 24, 5, tzinfo=UTC)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        config.load(write(tmp_path, "[app\nname="))


def test_two_approvals_of_three_with_self_review_can_be_met(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, GOOD))
    assert loaded.environments["production"].approvals is not None


@pytest.mark.parametrize(
    ("signers", "reason"),
    [
        (None, "cannot read"),  # missing
        ("directory", "cannot read"),  # unreadable (a directory: root reads any file)
        ("# nothing but a comment\n\n", "lists no keys"),
    ],
)
def test_allowed_signers_must_be_a_readable_file_with_keys(
    tmp_path: Path, signers: str | None, reason: str
) -> None:
    target = tmp_path / "signers"
    if signers == "directory":
        target.mkdir()
    elif signers is not None:
        target.write_text(signers)
    path = write(tmp_path, 'allowed_signers = "signers"\n' + GOOD)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "allowed_signers: " in str(caught.value) and reason in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("RELEASEGATE_ENVIRONMENTS__PRODUCTION__WAIT_TIMER", "soon", "not a duration"),
        ("RELEASEGATE_ENVIRONMENTS__PRODUCTION__BRANCHES", "main", "written as JSON"),
        ("RELEASEGATE_GROUPS", '{"leads": ["alice", "bob smith"]}', "breaks the name rule"),
        ("RELEASEGATE_AUDIT_RETENTION_DAYS", "forever", "valid integer"),
        ("RELEASEGATE_ALLOWED_SIGNERS", "/nonexistent/allowed_signers", "cannot read"),
        (
            "RELEASEGATE_ENVIRONMENTS__PRODUCTON__URL",
            "http://127.0.0.1:18090",
            "no environment 'producton'",
        ),
        (
            "RELEASEGATE_ENVIRONMENTS__PRODUCTION__APPROVALS",
            '{"required": 3, "from": "leads"}',
            "can never be given on a run one of them triggers",
        ),
    ],
)
def test_a_bad_variable_is_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, GOOD))
    message = str(caught.value)
    assert f"  {variable}" in message and reason in message, message


def test_a_variable_never_adds_a_second_spelling_of_an_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Variable names are read in lower case: RELEASEGATE_ENVIRONMENTS__PRODUCTION__URL sets
    # `environments.production`, which is not `Production`. It must not load as a third
    # environment without the gates of the one it was meant to change.
    variable = "RELEASEGATE_ENVIRONMENTS__PRODUCTION__URL"
    monkeypatch.setenv(variable, "http://127.0.0.1:18090")
    text = GOOD.replace("environments.production", "environments.Production")
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    message = str(caught.value)
    assert f"  {variable}" in message and "no environment 'production'" in message, message
    assert "'Production'" in message, message


def test_a_variable_holding_a_table_of_environments_adds_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASEGATE_ENVIRONMENTS", '{"extra": {"url": "http://127.0.0.1:18090"}}')
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, GOOD))
    message = str(caught.value)
    assert "  RELEASEGATE_ENVIRONMENTS: no environment 'extra'" in message, message


def test_a_release_train_stops_pushes_before_its_environment(tmp_path: Path) -> None:
    text = GOOD.replace(
        "[environments.production]",
        '[environments.qa]\nrequires = "production"\nurl = "http://127.0.0.1:18082"\n'
        "[environments.production]\n"
        'schedule = { cron = "0 10 * * 1-4", timezone = "Europe/Berlin" }',
    )
    loaded = config.load(write(tmp_path, text))
    assert loaded.pipeline() == ["staging", "production", "qa"]
    assert loaded.stretch() == ["staging"]  # a push
    assert loaded.stretch("production") == ["production", "qa"]  # the train, and after it
    assert loaded.reconcile.every.total_seconds() == 300  # the default
    assert config.load(write(tmp_path, GOOD)).stretch() == ["staging", "production"]
