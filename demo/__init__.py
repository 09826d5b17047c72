"""gridgame: demo."""
