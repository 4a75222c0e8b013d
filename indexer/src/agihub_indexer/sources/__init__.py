"""Chain sources behind one interface: :class:`~agihub_indexer.sources.base.Source`.

* :mod:`~agihub_indexer.sources.evm` - logs by block range over JSON-RPC, with block headers for reorgs
* :mod:`~agihub_indexer.sources.aptos` - events by transaction version over the node's REST API
"""
