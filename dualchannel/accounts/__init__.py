"""Who the caller is: the account behind a bearer token and what it acts for (`GET /api/v1/me`)."""
