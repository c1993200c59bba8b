"""Network address helpers shared by the adapters that make outbound requests."""
