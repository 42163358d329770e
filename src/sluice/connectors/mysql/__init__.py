"""MySQL and MariaDB: source, through connectorx and PyMySQL (`pip install 'sluice[mysql]'`)."""

from sluice.connectors.spec import ConnectorSpec

CONNECTOR = ConnectorSpec(
    type_name="mysql",
    creds="sluice.connectors.mysql.config:MySQLCreds",
    example_creds='{"host": "db.example.com", "port": 3306, "user": "app", '
    '"password": "...", "database": "shop"}',
    source="sluice.connectors.mysql.source:MySQLSource",
    extra="mysql",
    driver_modules=("connectorx", "pymysql"),
)
