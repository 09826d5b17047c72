"""gridgame: tx_queue — the relay that serialises every signed request onto the ledger.

Prosumers and the clock sign ERC-2771 forward requests; the queue checks them, stores them
durably, and relays them in order with its own account and nonce through the forwarder's
`executeBatch`, recording each request's fate (see docs/tx_queue.md).
"""
