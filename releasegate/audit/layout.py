"""Where each record lives: one key layout for every store, so histories move by plain copy.

::

    <root or prefix>/<env>/records/<9999999999999999 - seq, 16 digits>-<seq>.json

* One name per sequence slot, a function of `seq` alone: stores address a record directly
  (no listing) and a slot is the unit of exclusive creation.
* The sequence number is *inverted* and zero-padded, so ascending name order (S3's listing
  order) is newest first. The plain ``-<seq>`` suffix is for people browsing; it must agree
  with the inverted part, so each slot still has exactly one possible name.
* ``<env>`` is URL-quoted, so any environment name is exactly one path segment.
* Names starting with ``.`` directly under ``<env>/`` are a store's own bookkeeping (the
  file store's head hint, lock and temporary files): never records, never copied.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote

SEQ_WIDTH = 16
MAX_SEQ = 10**SEQ_WIDTH - 1
RECORDS = "records"
"""The folder of an environment that holds its records."""
BOOKKEEPING = frozenset({".head", ".lock", ".tmp"})
"""The file store's own entries beside `records/`; anything else there is foreign."""

_RECORD_NAME = re.compile(rf"^(\d{{{SEQ_WIDTH}}})-(\d+)\.json$")


@lru_cache(maxsize=1024)
def env_segment(environment: str) -> str:
    """The path segment of an environment: URL-quoted, so it is exactly one segment."""
    if not environment or environment.startswith("."):
        raise ValueError("an environment name cannot be empty or start with '.'")
    return quote(environment, safe="")


def environment_of(segment: str) -> str | None:
    """The environment a path segment names, or None if it is not one `env_segment` makes."""
    name = unquote(segment)
    if not name or name.startswith("."):
        return None
    return name if env_segment(name) == segment else None


def record_name(seq: int) -> str:
    """The file/object name of sequence slot `seq`."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence number out of range: {seq}")
    return f"{MAX_SEQ - seq:0{SEQ_WIDTH}d}-{seq}.json"


def parse_record_name(name: str) -> int | None:
    """The sequence number of a record name, or None if `name` is not one."""
    m = _RECORD_NAME.match(name)
    if m is None:
        return None
    seq = MAX_SEQ - int(m.group(1))
    return seq if m.group(2) == str(seq) else None


def record_path(environment: str, seq: int) -> str:
    """`<env>/records/<name>`: the record's path below the store's root or prefix."""
    return f"{env_segment(environment)}/{RECORDS}/{record_name(seq)}"
