"""Scenarios run through the upstream systems' own client libraries against the sandboxes."""
