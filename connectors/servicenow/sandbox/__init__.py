"""A faithful fake of ServiceNow's Table API (encoded queries, change flow), tests and demo."""
