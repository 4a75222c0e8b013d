"""The relay node: a Nostr relay (NIP-01/11/42), a Blossom blob store (BUD-01/02) and websocket chunk
streaming, served together on one port by ``agihub relay run``. See README.md in this folder."""
