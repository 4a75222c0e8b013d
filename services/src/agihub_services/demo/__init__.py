"""``agihub demo``: the end-to-end walk-through on the embedded default, printed step by step.

It starts its own stack (chain node, SQLite, filesystem broker, worker, API) in a temporary data dir
on free loopback ports and runs every step against those real processes: the escrow contract is
compiled and deployed on the chain node, every transaction is signed with a dev account, models are
real safetensors files packed into real shards, and the buyer rebuilds and verifies what it paid for.
"""
