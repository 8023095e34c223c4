"""The contract the OMERO side publishes: event schemas, the topology, and the publisher."""
