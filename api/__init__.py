"""api: every way in from outside — the CLI, the ISO 15022 gateway, the service and the portal."""
