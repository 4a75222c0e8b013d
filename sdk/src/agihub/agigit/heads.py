"""Branch heads on relays: a signed Nostr event pointing at a head blob.

A push uploads one *head blob* (canonical JSON, ``agigit-head/1``) that lists every commit reachable
from the branch head with the blob ids of its commit and manifest files and the placement of its
shards, then announces it with an addressable event on each push relay's websocket:

| field | value |
| --- | --- |
| kind | ``31339`` (``agihub.nostr.kinds.REPO_HEAD``; addressable: the relay keeps the newest per ``(pubkey, kind, d)``) |
| ``d`` tag | repository name |
| ``branch`` tag | branch name (``master``) |
| ``c`` tag | head commit id |
| ``x`` tag | sha256 of the head blob (its blob id) |

A fetch asks its fetch relays for ``{"kinds":[31339],"authors":[upstream],"#d":[name]}``, keeps the
newest valid event, and downloads the head blob by its sha256; every commit and manifest it names
is then checked against its own hash and signature, so a relay can withhold data but not forge it.
Relays check its tags (``agihub.nostr.kinds.validate_agihub_event``) and refuse a malformed head.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from agihub.agigit.errors import RemoteError
from agihub.identity import SecretKey
from agihub.nostr import kinds
from agihub.nostr.event import Event, InvalidEvent, parse_event, sign_event
from agihub.transfer.relays import ws_url

HEAD_KIND = kinds.REPO_HEAD
HEAD_FORMAT = "agigit-head/1"
TIMEOUT_S = 10.0


def head_event(
    key: SecretKey, name: str, branch: str, commit_id: str, head_blob: str, created_at: int
) -> Event:
    """Sign the head announcement."""
    tags = [["d", name], ["branch", branch], ["c", commit_id], ["x", head_blob]]
    return sign_event(key, HEAD_KIND, "", tags, created_at=created_at)


def _connect(url: str) -> Any:
    try:
        return connect(ws_url(url), open_timeout=TIMEOUT_S, close_timeout=2, max_size=2**22)
    except (OSError, TimeoutError) as exc:
        raise RemoteError(f"relay {url} is unreachable: {exc}; check the URL (agigit relay list)") from exc
    except WebSocketException as exc:  # handshake refused (InvalidStatus), bad URL (InvalidURI), ...
        raise RemoteError(f"relay {url} refused the websocket connection: {exc}") from exc


def _messages(ws: Any, url: str) -> Any:
    while True:
        try:
            raw = ws.recv(timeout=TIMEOUT_S)
        except TimeoutError as exc:
            raise RemoteError(f"relay {url} did not answer within {TIMEOUT_S:g} s") from exc
        except WebSocketException as exc:
            raise RemoteError(f"relay {url} closed the connection: {exc}") from exc
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(message, list) and message:
            yield message


def publish(url: str, event: Event, key: SecretKey | None = None) -> None:
    """Send ``event`` and wait for its ``OK``; :class:`RemoteError` if refused.

    A relay that answers ``auth-required:`` gets a NIP-42 AUTH (kind 22242 with its challenge and
    URL, signed by ``key``) and the event once more.
    """
    with _connect(url) as ws:
        challenge: str | None = None
        auth: Event | None = None
        ws.send(json.dumps(["EVENT", event.to_dict()]))
        for message in _messages(ws, url):
            if message[0] == "AUTH" and len(message) > 1 and isinstance(message[1], str):
                challenge = message[1]
            elif message[0] == "OK" and len(message) >= 3 and auth is not None and message[1] == auth.id:
                if message[2] is not True:
                    raise RemoteError(f"relay {url} refused our authentication: {_reason(message)}")
                ws.send(json.dumps(["EVENT", event.to_dict()]))
            elif message[0] == "OK" and len(message) >= 3 and message[1] == event.id:
                if message[2] is True:
                    return
                if _reason(message).startswith("auth-required") and key and challenge and auth is None:
                    auth = sign_event(key, kinds.AUTH, "", [["relay", ws_url(url)], ["challenge", challenge]])
                    ws.send(json.dumps(["AUTH", auth.to_dict()]))
                    continue
                raise RemoteError(f"relay {url} refused the kind-{event.kind} event: {_reason(message)}")
            elif message[0] == "NOTICE":
                raise RemoteError(f"relay {url} refused the kind-{event.kind} event: {message[1:]}")


def _reason(message: list[Any]) -> str:
    return str(message[3]) if len(message) > 3 else ""


def query_events(url: str, query: dict[str, Any]) -> list[Event]:
    """Events matching one NIP-01 filter, each id and signature checked here (relays are untrusted)."""
    sub = secrets.token_hex(8)
    found: list[Event] = []
    with _connect(url) as ws:
        ws.send(json.dumps(["REQ", sub, query]))
        for message in _messages(ws, url):
            if message[0] == "EVENT" and len(message) == 3 and message[1] == sub:
                try:
                    found.append(parse_event(message[2]))
                except InvalidEvent:
                    continue  # a relay may serve garbage; the signature check is ours to make
            elif message[0] in ("EOSE", "CLOSED") and message[1] == sub:
                break
        ws.send(json.dumps(["CLOSE", sub]))
    return found


def query_heads(url: str, author: str, name: str) -> list[Event]:
    """Valid head events by ``author`` for repository ``name`` held by the relay."""
    query = {"kinds": [HEAD_KIND], "authors": [author], "#d": [name], "limit": 10}
    return [
        event
        for event in query_events(url, query)
        if event.pubkey == author and event.kind == HEAD_KIND and event.d_tag == name
    ]


def newest(events: list[Event]) -> Event | None:
    """NIP-01 order for addressable events: newest ``created_at``, then lowest id."""
    return min(events, key=lambda e: (-e.created_at, e.id)) if events else None
