"""An httpx transport that sits in front of the real node and injects faults (not a mock node).

Each request is forwarded to the node unless the seeded schedule picks a fault for it: HTTP 500,
timeout, connection reset, a JSON-RPC error, non-JSON garbage, a dropped answer in a batch, a head
far below the real one, or a header whose parent hash was altered.
"""

from __future__ import annotations

import json
import random

import httpx

FAULTS = ("http500", "timeout", "reset", "rpc_error", "garbage", "drop_answer", "low_head", "bad_parent")


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the node; a fraction ``rate`` of requests gets one of ``faults``."""

    def __init__(self, rate: float, seed: int, faults: tuple[str, ...] = FAULTS) -> None:
        self.inner = httpx.HTTPTransport()
        self.rate = rate
        self.rng = random.Random(seed)
        self.faults = faults
        self.injected: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.rng.choice(self.faults) if self.rng.random() < self.rate else None
        if fault == "timeout":
            self.injected.append(fault)
            raise httpx.ReadTimeout("injected timeout", request=request)
        if fault == "reset":
            self.injected.append(fault)
            raise httpx.ConnectError("injected connection reset", request=request)
        if fault == "http500":
            self.injected.append(fault)
            return httpx.Response(500, text="injected server error")
        response = self.inner.handle_request(request)
        response.read()
        if fault is None:
            return response
        body = json.loads(response.content)
        methods = {c["id"]: c["method"] for c in json.loads(request.content)}
        changed = self._corrupt(fault, body, methods)
        if changed is None:
            return httpx.Response(200, content=response.content, headers={"content-type": "application/json"})
        self.injected.append(fault)
        if fault == "garbage":
            return httpx.Response(200, text="<html>bad gateway</html>")
        return httpx.Response(200, json=changed)

    def _corrupt(self, fault: str, body: list[dict], methods: dict[int, str]) -> object | None:
        if not isinstance(body, list):
            return None
        if fault == "garbage":
            return body
        if fault == "rpc_error":
            body[0] = {
                "jsonrpc": "2.0",
                "id": body[0].get("id"),
                "error": {"code": -32000, "message": "injected"},
            }
            return body
        if fault == "drop_answer" and len(body) > 1:
            return body[1:]
        if fault == "low_head":
            return self._low_head(body, methods)
        if fault == "bad_parent":
            return self._bad_parent(body)
        return None

    @staticmethod
    def _low_head(body: list[dict], methods: dict[int, str]) -> object | None:
        for answer in body:
            if methods.get(answer.get("id")) == "eth_blockNumber":
                answer["result"] = "0x1"  # a node far behind, e.g. a fresh replica behind a load balancer
                return body
        return None

    @staticmethod
    def _bad_parent(body: list[dict]) -> object | None:
        headers = [a for a in body if isinstance(a.get("result"), dict) and "parentHash" in a["result"]]
        # Only a batch's own chain of headers can betray a changed parent (a lone header asked by
        # number is not linked to anything), so only those count as injected.
        if len(headers) < 2:
            return None
        victim = headers[len(headers) // 2]["result"]
        victim["parentHash"] = "0x" + "ee" * 32
        return body
