"""Cost attribution: usage x price book -> per-tenant ledger, bottom-up and reconciled."""
