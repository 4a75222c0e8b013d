"""Discovery: agihub Nostr events (model versions 31337, relay offers 31338) from relays into SQL.

``agihub discovery run`` subscribes to every relay in ``AGIHUB_DISCOVERY_RELAYS`` and keeps the
shared database's ``discovery_*`` tables current (:mod:`.store`), so the marketplace API can show
each model's card and which relays offer it. See ``README.md`` beside this file.
"""
