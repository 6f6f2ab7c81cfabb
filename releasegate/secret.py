"""Credentials in the configuration: always the *name* of an environment variable, never a value.

```toml
incidents = { url = "https://status.example.com/api/v2/incidents/unresolved.json",
              headers = { Authorization = { env = "STATUSPAGE_TOKEN", prefix = "OAuth " } } }
```

The variable is read when the configuration is loaded; if it is unset or empty, loading
fails naming it (exit 2). A header whose value is written inline is refused, so a token
cannot land in a configuration file (and from there in a repository) by mistake. The value
is kept as a `SecretStr` (shown as `**********`), is never part of a model dump, and is
remembered by `releasegate.redaction` so that no text releasegate records or prints can
carry it. The same type serves every credential a setting needs (a webhook secret, too).
"""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from releasegate.redaction import remember

# A header name is an HTTP token (RFC 9110); values come from EnvSecret only.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")


class EnvSecret(BaseModel):
    """A credential read from the environment variable `env`, sent as `prefix` + its value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    prefix: str = Field(
        default="", pattern=r"^([A-Za-z][A-Za-z0-9._-]{0,15} ([A-Za-z][A-Za-z0-9._-]{0,15}=)?)?$"
    )
    """An authentication scheme and one space (`Bearer `, `GenieKey `), optionally followed by
    a parameter name and `=` (PagerDuty's `Token token=`), or nothing."""
    _value: SecretStr = PrivateAttr()

    @model_validator(mode="after")
    def _read(self) -> EnvSecret:
        value = os.environ.get(self.env, "")
        if not value:
            raise ValueError(f"environment variable {self.env} (a credential) is not set")
        self._value = SecretStr(value)
        remember(value)
        return self

    def reveal(self) -> str:
        """The value to send. Only the code that sends it calls this."""
        return self.prefix + self._value.get_secret_value()


def header_secrets(headers: Any) -> Any:
    """Check a `headers` table before it is parsed: names are HTTP tokens, and every value
    names an environment variable. The error never repeats a value (it may be a secret)."""
    if not isinstance(headers, dict):
        return headers  # pydantic says what is wrong with it
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValueError("header names are HTTP tokens: letters, digits and !#$%&'*+.^_`|~-")
        if not isinstance(value, dict | EnvSecret):
            raise ValueError(
                f"header {name}: a header value must name an environment variable, e.g. "
                f'{{ env = "STATUSPAGE_TOKEN", prefix = "OAuth " }}; a value written in the '
                "configuration would be kept with it"
            )
    return headers


def reveal_all(headers: dict[str, EnvSecret]) -> dict[str, str]:
    """The headers to send."""
    return {name: secret.reveal() for name, secret in headers.items()}


WEBHOOK_SECRET = "RELEASEGATE_WEBHOOK_SECRET"
"""The GitHub webhook's secret: the receiver verifies deliveries with it, and the processes
running the flows check the receiver's attestations with it (`signing.webhook`)."""


def webhook_secret() -> EnvSecret | None:
    """The webhook secret from RELEASEGATE_WEBHOOK_SECRET, or None when it is unset."""
    if not os.environ.get(WEBHOOK_SECRET):
        return None
    return EnvSecret(env=WEBHOOK_SECRET)
