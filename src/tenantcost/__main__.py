from __future__ import annotations

from tenantcost.cli import main

main()
