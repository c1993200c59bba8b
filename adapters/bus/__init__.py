"""Event buses: the in-process one fans events out to live subscribers of this server."""
