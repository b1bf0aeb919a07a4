"""A faithful fake of GitHub (REST, GraphQL, webhooks) for tests and the demo."""
