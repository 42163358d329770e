"""The operations the CLI and the API offer over the config database: validate, check
against the live systems, then store. Above connectors and stages, below the edges."""
