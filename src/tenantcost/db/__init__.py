"""The database: connections, migrations, named queries, tenant sessions, Citus placement."""

from __future__ import annotations

import uuid

#: The tenant_id of rows charged to no tenant in tenantcost's evidence, priced usage and ledger
#: (revision 0027: Citus cannot place a row whose distribution column is NULL). No company has
#: it; readers turn it back into NULL (nullif), so every report shows "no tenant" as before.
NO_TENANT = uuid.UUID(int=0)
