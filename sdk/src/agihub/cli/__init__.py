"""The ``agihub`` command line.

The SDK owns the entry point; server-side packages (services, indexer, worker) add their command
groups through the ``agihub.cli`` entry-point group, so the SDK never imports them.
"""
