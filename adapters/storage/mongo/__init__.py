"""MongoDB storage: one repository per port, as in storage/sql/, over PyMongo's async client."""
