"""The product's pure core: entities, errors, ports and use cases. No framework imports."""
