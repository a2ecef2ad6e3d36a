"""Bringing earlier postmortems in: each format's reader turns a file or row into an
`ImportedIncident` (records.py); one runner previews or writes them (one transaction per file)."""
