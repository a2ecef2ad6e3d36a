"""The REST API, versioned at /api/v1/."""
