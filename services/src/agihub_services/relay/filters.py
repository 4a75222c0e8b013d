"""NIP-01 subscription filters: parsing with limits, and matching live events.

A filter matches an event when every condition it sets holds; a REQ's filters are OR-ed. ``ids`` and
``authors`` are exact 64-hex values, ``#<letter>`` matches the first value of single-letter tags,
``since <= created_at <= until``, and ``limit`` only caps the stored events sent before EOSE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agihub.errors import AgihubError
from agihub.nostr.event import MAX_KIND, MAX_TIMESTAMP, is_hex64

if TYPE_CHECKING:
    from agihub.nostr.event import Event

_TAG_KEY = re.compile(r"#[A-Za-z]")
#: Values per list (ids, authors, kinds, one tag) — bounds the SQL a single filter can produce.
MAX_FILTER_VALUES = 1000


class InvalidFilter(AgihubError):
    """A REQ filter is malformed; the relay answers CLOSED "invalid: ..."."""


@dataclass(frozen=True)
class Filter:
    """One parsed filter; empty tuples mean "no condition"."""

    ids: frozenset[str] = frozenset()
    authors: frozenset[str] = frozenset()
    kinds: frozenset[int] = frozenset()
    tags: dict[str, frozenset[str]] = field(default_factory=dict)
    since: int | None = None
    until: int | None = None
    limit: int | None = None

    def matches(self, event: Event) -> bool:
        """True when ``event`` satisfies every condition of this filter."""
        if self.ids and event.id not in self.ids:
            return False
        if self.authors and event.pubkey not in self.authors:
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        if self.since is not None and event.created_at < self.since:
            return False
        if self.until is not None and event.created_at > self.until:
            return False
        return all(self._tag_matches(event, name, values) for name, values in self.tags.items())

    @staticmethod
    def _tag_matches(event: Event, name: str, values: frozenset[str]) -> bool:
        return any(len(t) > 1 and t[0] == name and t[1] in values for t in event.tags)


def parse_filter(obj: object, *, max_limit: int, default_limit: int) -> Filter:
    """Validate one filter object; ``limit`` is clamped to ``max_limit`` (NIP-11 ``max_limit``)."""
    if not isinstance(obj, dict):
        raise InvalidFilter("filter must be a JSON object")
    tags: dict[str, frozenset[str]] = {}
    for key in obj:
        if key.startswith("#"):
            if not _TAG_KEY.fullmatch(key):
                raise InvalidFilter(f"tag filter {key!r} must be # and one letter")
            tags[key[1:]] = frozenset(_str_list(obj[key], key))
        elif key not in {"ids", "authors", "kinds", "since", "until", "limit", "search"}:
            raise InvalidFilter(f"unknown filter field {key!r}")
    if "search" in obj:
        raise InvalidFilter("search (NIP-50) is not supported")
    return Filter(
        ids=frozenset(_hex_list(obj, "ids")),
        authors=frozenset(_hex_list(obj, "authors")),
        kinds=frozenset(_kinds(obj)),
        tags=tags,
        since=_timestamp(obj, "since"),
        until=_timestamp(obj, "until"),
        limit=min(_limit(obj, default_limit), max_limit),
    )


def _str_list(value: object, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidFilter(f"{name} must be an array of strings")
    if len(value) > MAX_FILTER_VALUES:
        raise InvalidFilter(f"{name} has {len(value)} values; the limit is {MAX_FILTER_VALUES}")
    return value


def _hex_list(obj: dict, name: str) -> list[str]:
    if name not in obj:
        return []
    values = _str_list(obj[name], name)
    if not all(is_hex64(v) for v in values):
        raise InvalidFilter(f"{name} must hold 64 lower-case hex characters each")
    return values


def _kinds(obj: dict) -> list[int]:
    value = obj.get("kinds", [])
    ok = isinstance(value, list) and all(_is_int(k) and 0 <= k <= MAX_KIND for k in value)
    if not ok:
        raise InvalidFilter(f"kinds must be an array of integers in [0, {MAX_KIND}]")
    if len(value) > MAX_FILTER_VALUES:
        raise InvalidFilter(f"kinds has {len(value)} values; the limit is {MAX_FILTER_VALUES}")
    return value


def _timestamp(obj: dict, name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value <= MAX_TIMESTAMP:
        raise InvalidFilter(f"{name} must be a non-negative integer Unix timestamp")
    return value


def _limit(obj: dict, default: int) -> int:
    value = obj.get("limit", default)
    if not _is_int(value) or value < 0:
        raise InvalidFilter("limit must be a non-negative integer")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
