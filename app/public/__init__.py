"""What a resident sees without logging in: the public status page (/status) and the public timeline
that the status page and Open311 share."""
