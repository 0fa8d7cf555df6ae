"""Management by the loop: 台账 ledgers, KPIs and their exports (issue 9, sections 1 and 2)."""
