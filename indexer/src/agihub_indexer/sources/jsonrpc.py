"""A minimal JSON-RPC 2.0 client over httpx with batch calls.

Every failure (transport, timeout, HTTP status, malformed body, error object, missing answer in a
batch) becomes :class:`SourceUnavailable`, which the follower retries with backoff.
Spec: https://www.jsonrpc.org/specification#batch
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from agihub_indexer.errors import SourceUnavailable

# Larger answers than this are not what a market node sends for one batch; refuse rather than buffer.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class JsonRpcClient:
    """Calls one JSON-RPC endpoint; ``transport`` lets tests interpose faults in front of a real node."""

    def __init__(self, url: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.url = url
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def call(self, method: str, params: list[Any]) -> Any:
        """One call; returns its ``result``."""
        return self.batch([(method, params)])[0]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in call order."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        answers = self._post(body)
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        results = []
        for call_id, (method, _params) in zip(ids, calls, strict=True):
            answer = by_id.get(call_id)
            if answer is None:
                raise SourceUnavailable(f"{self.url}: no answer to {method} in a batch of {len(calls)}")
            if answer.get("error") is not None:
                raise SourceUnavailable(f"{self.url}: {method} failed: {_error_text(answer['error'])}")
            if "result" not in answer:
                raise SourceUnavailable(f"{self.url}: {method} answer has neither result nor error")
            results.append(answer["result"])
        return results

    def _post(self, body: list[dict[str, Any]]) -> list[Any]:
        try:
            response = self._http.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(f"{self.url}: timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise SourceUnavailable(f"{self.url}: HTTP {response.status_code}: {response.text[:200]!r}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise SourceUnavailable(f"{self.url}: answer of {len(response.content)} bytes is too large")
        try:
            answers = json.loads(response.content)
        except ValueError:
            raise SourceUnavailable(f"{self.url}: answer is not JSON: {response.text[:200]!r}") from None
        if isinstance(answers, dict):  # some nodes answer a whole batch with one error object
            raise SourceUnavailable(f"{self.url}: batch refused: {_error_text(answers.get('error'))}")
        if not isinstance(answers, list):
            raise SourceUnavailable(f"{self.url}: batch answer is a {type(answers).__name__}, not a list")
        return answers


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('code')} {error.get('message')}"
    return repr(error)[:200]
