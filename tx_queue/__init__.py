"""gridgame: tx_queue."""
