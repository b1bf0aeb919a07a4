"""A faithful fake of BMC Remedy's AR REST API (qualifications, forms) for tests and the demo."""
