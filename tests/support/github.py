"""GitHub's webhook deliveries as the tests and benches send them."""

from __future__ import annotations

import json
import time
from typing import Any


def push(commit: str, *, branch: str = "main", pusher: str = "dave", **extra: Any) -> bytes:
    """A push delivery's body, shaped as GitHub's (only a few of its many fields)."""
    return json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "before": "1" * 40,
            "after": commit,
            "created": False,
            "deleted": False,
            "forced": False,
            "repository": {"full_name": "acme/webapp", "pushed_at": int(time.time())},
            "pusher": {"name": pusher, "email": f"{pusher}@example.com"},
            "sender": {"login": pusher},
            "head_commit": {"id": commit, "message": "a change"},
            **extra,
        }
    ).encode()
