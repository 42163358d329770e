"""Salesforce: source, through simple-salesforce (`pip install 'sluice[salesforce]'`): the REST
query API for small objects, Bulk API 2.0 query jobs for large ones."""

from sluice.connectors.spec import ConnectorSpec

CONNECTOR = ConnectorSpec(
    type_name="salesforce",
    creds="sluice.connectors.salesforce.config:SalesforceCreds",
    example_creds='{"instance_url": "https://acme.my.salesforce.com", "client_id": "3MVG9...", '
    '"client_secret": "..."}',
    source="sluice.connectors.salesforce.source:SalesforceSource",
    extra="salesforce",
    driver_modules=("simple_salesforce", "jwt"),
)
