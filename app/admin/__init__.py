"""Account administration for admins."""
