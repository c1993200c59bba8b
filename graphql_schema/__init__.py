"""The GraphQL API: Strawberry types and resolvers that call the same use cases as REST."""
