"""Shipped scenario files (TOML package data); copies of the repository's scenarios/ folder."""
