"""gridgame: optimizer."""
