"""crud of the users service."""
