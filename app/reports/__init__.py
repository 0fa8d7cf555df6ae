"""Management tools built from what the engine records: ledgers, KPIs, department scoring, the weekly report."""
