"""Nostr for agihub: NIP-01 events (build, sign, parse, verify) and agihub's own event kinds.

Shared by every client (SDK, CLI, dApp back ends) and by the relay node, which imports it from here.
"""
