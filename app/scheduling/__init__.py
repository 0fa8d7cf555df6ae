"""Scheduler processes sharing work: timer claims (leases), heartbeats, exactly-once cron periods."""
