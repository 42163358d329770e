"""MongoDB: source, through pymongo (`pip install 'sluice[mongo]'`): a collection's documents
read in one snapshot, their columns inferred from a sample and what the lake recorded."""

from sluice.connectors.spec import ConnectorSpec

CONNECTOR = ConnectorSpec(
    type_name="mongo",
    creds="sluice.connectors.mongo.config:MongoCreds",
    example_creds='{"uri": "mongodb://reader:...@db.example.com:27017/?authSource=admin", '
    '"database": "shop"}',
    source="sluice.connectors.mongo.source:MongoSource",
    extra="mongo",
    driver_modules=("pymongo", "bson"),
)
