"""REST routers reproducing the documented API, one module per section; no business rules."""
