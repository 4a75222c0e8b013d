"""Follow an order with the AsyncClient (an async iterator of typed events).

python -m agihub.client.examples.follow_async ORDER_ID
"""

from __future__ import annotations

import asyncio
import sys

from agihub import AsyncClient


async def run(client: AsyncClient, order_id: int, timeout: float = 600) -> list[str]:
    names = []
    async for event in client.follow(order_id, timeout=timeout, poll=0.1):
        print(event.name, "->", event.state.name, "in block", event.block)
        names.append(event.name)
    return names


if __name__ == "__main__":
    asyncio.run(run(AsyncClient(), int(sys.argv[1])))
