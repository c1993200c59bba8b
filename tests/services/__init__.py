"""Database servers the tests start themselves (one per test session, on 127.0.0.1)."""
