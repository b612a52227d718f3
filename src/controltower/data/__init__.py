"""Data shipped with the package: the demo's sample of real GitHub Actions history."""
