"""The config database: schema, migrations, typed access and validation of what goes in."""
