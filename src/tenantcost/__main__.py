from __future__ import annotations

from tenantcost.launch import main

main()
