"""Local stand-ins for the cloud: an embedded PostgreSQL and an embedded S3."""
