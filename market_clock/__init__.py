"""gridgame: market_clock."""
