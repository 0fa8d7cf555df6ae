"""The audit log's integrity: a hash chain over its rows, append-only guards in the database, and
the page that lists who saw whose personal data."""
