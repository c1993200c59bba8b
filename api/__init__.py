"""Composition root: settings, wiring, the app factory and the command line."""
