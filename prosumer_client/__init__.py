"""gridgame: prosumer_client."""
