"""``GET /earnings/relays/{address}`` and ``GET /earnings/contributors/{address}``.

Totals are summed in Python as integers: amounts are uint256 decimal strings, which neither SQLite nor
a portable SQL cast adds exactly.
"""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from agihub_services.api import schemas
from agihub_services.api.deps import EngineDep
from agihub_services.db.schema import Payment

router = APIRouter(prefix="/earnings", tags=["earnings"], responses=schemas.ERROR_RESPONSES)

#: Payment kinds that are income of each role (see ``agihub_indexer.projection``).
RELAY_KINDS = ("down_payment", "relay_payment")
CONTRIBUTOR_KINDS = ("reward",)


def earnings(
    engine: EngineDep, account: str, role: str, kinds: tuple[str, ...], chain: str | None
) -> schemas.Earnings:
    """Sum the payments of ``kinds`` made to ``account``, per chain and kind (zero rows: empty maps)."""
    query = select(Payment.chain, Payment.kind, Payment.amount).where(
        Payment.account == account, Payment.kind.in_(kinds)
    )
    if chain is not None:
        query = query.where(Payment.chain == chain)
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with Session(engine) as session:
        for row_chain, kind, amount in session.execute(query).yield_per(1000):
            sums[row_chain][kind] += int(amount)
    return schemas.Earnings(
        account=account,
        role=role,
        by_chain={c: {k: str(v) for k, v in kinds_.items()} for c, kinds_ in sums.items()},
        total_by_chain={c: str(sum(kinds_.values())) for c, kinds_ in sums.items()},
    )


@router.get("/relays/{address}", response_model=schemas.Earnings)
def relay_earnings(
    engine: EngineDep, address: schemas.AddressPath, chain: schemas.ChainQuery = None
) -> schemas.Earnings:
    """What a relay was paid: down payments when it took orders and relay payments on delivery."""
    return earnings(engine, address, "relay", RELAY_KINDS, chain)


@router.get("/contributors/{address}", response_model=schemas.Earnings)
def contributor_earnings(
    engine: EngineDep, address: schemas.AddressPath, chain: schemas.ChainQuery = None
) -> schemas.Earnings:
    """What a contributor was paid as epoch rewards."""
    return earnings(engine, address, "contributor", CONTRIBUTOR_KINDS, chain)
