"""Provider integrations: where infrastructure prices come from (Hostwinds today)."""
