"""Shipped price books (TOML package data); see ``tenantcost.pricing.shipped_price_books``."""
