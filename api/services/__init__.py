"""Use cases: each service does its writes and their audit events in one transaction.

The graph, webhooks, the CLI and any later entry point call these; resolvers
parse, call and shape. Rules without I/O stay in `api.domain`.
"""
