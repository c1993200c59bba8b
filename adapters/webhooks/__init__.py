"""Webhook HTTP transport."""
