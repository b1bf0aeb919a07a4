"""A faithful fake of JIRA Cloud and Data Center (REST, JQL, webhooks) for tests and the demo."""
