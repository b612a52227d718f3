"""The largest integers the store's columns hold: a larger one is refused where it enters
(an import, a path or query of the API, a command's argument), not by the database. Pure."""

INT32_MAX = 2**31 - 1
"""PostgreSQL's ``integer``: ids, attempts, counts."""
INT64_MAX = 2**63 - 1
"""PostgreSQL's ``bigint``: run numbers, GitHub's ids."""
