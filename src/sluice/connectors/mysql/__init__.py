"""MySQL and MariaDB: source (connectorx streams Arrow; declared types restored)."""
