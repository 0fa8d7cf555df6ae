"""Management by the loop: 台账 ledgers, KPIs and their exports (issue 9, sections 1 and 2); 考核计分
department scoring and the weekly 调度研判 专报 (sections 3 and 4)."""
