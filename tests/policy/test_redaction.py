"""Credentials in configured URLs are masked wherever text is shown; credentials in headers
come from environment variables only, and a bad credential setting fails at load."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from releasegate import config
from releasegate.errors import ConfigError
from releasegate.redaction import redact_data, redact_text, redact_url

BASE = """
[app]
name = "webapp"
[environments.production]
url = "http://127.0.0.1:18081"
"""


def load(tmp_path: Path, extra: str) -> config.Config:
    path = tmp_path / "releasegate.toml"
    path.write_text(BASE + extra)
    return config.load(path)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@status.example.com/x", "https://***@status.example.com/x"),
        ("https://TOKEN@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
        ("https://h/api?api_key=K&page=2", "https://h/api?api_key=***&page=***"),
        ("https://h/api?BARETOKEN", "https://h/api?***"),
        ("https://h/cb#access_token=T", "https://h/cb#access_token=***"),
        ("https://u:p@h:8443/a?x=1#y", "https://***@h:8443/a?x=***#***"),
        ("https://status.example.com/api", "https://status.example.com/api"),
        ("http://[::1", "***"),  # unparseable: nothing of it is shown
    ],
)
def test_a_url_keeps_where_it_points_and_loses_its_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_text_and_data_have_every_url_in_them_redacted() -> None:
    error = "Client error '401 Unauthorized' for url 'https://u:pw@h/x?api_key=K'\nFor more..."
    assert redact_text(error) == (
        "Client error '401 Unauthorized' for url 'https://***@h/x?api_key=***'\nFor more..."
    )
    data = {"rows": [{"url": "s3://AK:SK@bucket/p", "n": 3}], "why": ("http://a:b@c",)}
    assert redact_data(data) == {
        "rows": [{"url": "s3://***@bucket/p", "n": 3}],
        "why": ["http://***@c"],
    }


def test_a_url_is_found_wherever_its_scheme_starts() -> None:
    for lead in ("", "1", "+", "x.", "(", "=", "é"):
        text = f"at {lead}https://u:pw@host/p?k=v now"
        assert redact_text(text) == f"at {lead}https://***@host/p?k=*** now"


@pytest.mark.timeout(30)
def test_a_long_word_without_a_url_is_read_in_linear_time() -> None:
    # Every log line and audit record is redacted: a status page's 1 MB incident name or a
    # smoke body must not cost minutes (quadratic, it took ~40 min; linear, milliseconds).
    word = "a1" * 500_000
    assert redact_text(word) == word
    assert redact_text(word + "://x.example?k=v") == word + "://x.example?k=***"


def test_header_credentials_come_from_the_environment_and_are_masked_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    monkeypatch.setenv("STATUSPAGE_TOKEN", token)
    loaded = load(
        tmp_path,
        'incidents = { url = "https://status.example.com/api/v2/incidents/unresolved.json", '
        'headers = { Authorization = { env = "STATUSPAGE_TOKEN", prefix = "OAuth " } } }\n',
    )
    check = loaded.environments["production"].incidents
    assert check is not None
    secret = check.headers["Authorization"]
    assert secret.reveal() == f"OAuth {token}"
    # The value is in no dump, repr or str of the configuration...
    for shown in (repr(loaded), str(loaded), loaded.model_dump_json(), repr(secret)):
        assert token not in shown
    # ...and any text that carries it (a server echoing it back) has it masked.
    assert redact_text(f"bad input_value='{token}'") == "bad input_value='***'"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (
            'headers = { Authorization = "OAuth abc123" }',
            "header Authorization: a header value must name an environment variable",
        ),
        (
            'headers = { Authorization = { env = "RELEASEGATE_TEST_UNSET_VARIABLE" } }',
            "environment variable RELEASEGATE_TEST_UNSET_VARIABLE (a credential) is not set",
        ),
        (
            'headers = { Authorization = { env = "HOME", prefix = "Bearer abc123 " } }',
            "prefix",
        ),
        ('headers = { "Bad Name" = { env = "HOME" } }', "header names are HTTP tokens"),
    ],
)
def test_a_credential_written_inline_or_missing_fails_at_load_without_repeating_it(
    tmp_path: Path, extra: str, says: str
) -> None:
    with pytest.raises(ConfigError) as failed:
        load(tmp_path, f'incidents = {{ url = "https://status.example.com/x", {extra} }}\n')
    message = str(failed.value)
    assert "environments.production.incidents.headers" in message and says in message
    assert "abc123" not in message


def test_an_environment_url_takes_no_query_and_errors_never_show_credentials(
    tmp_path: Path,
) -> None:
    path = tmp_path / "releasegate.toml"
    path.write_text(
        BASE.replace('"http://127.0.0.1:18081"', '"http://u:hunter22@127.0.0.1:18081/?token=T1"')
    )
    with pytest.raises(ConfigError) as failed:
        config.load(path)
    message = str(failed.value)
    assert "takes no query or fragment" in message
    assert "hunter22" not in message and "T1" not in message and "***@127.0.0.1" in message
