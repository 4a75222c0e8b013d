"""agihub chain indexer: market events from a chain node into the shared database, exactly once.

Layers, each calling only the one below:

* :mod:`agihub_indexer.cli` - ``agihub indexer run|status`` (thin)
* :mod:`agihub_indexer.follower` - the loop: head, confirmations, batches, reorg detection, backoff
* :mod:`agihub_indexer.store` - one database transaction per batch (rows + cursor), rollback
* :mod:`agihub_indexer.projection` - pure functions from events to rows
* :mod:`agihub_indexer.sources` - one :class:`~agihub_indexer.sources.base.Source` per chain (EVM, Aptos)
"""

__version__ = "0.1.0"
