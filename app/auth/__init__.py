"""Who is asking: accounts, roles, sign-in, sessions, CSRF, rate limits and API tokens."""
