"""gridgame: ledger_contracts."""
