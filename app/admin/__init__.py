"""System administration pages: users, departments, calendar overrides."""
