"""Cases at the hub (docs/cases.md "Integration"): the directory of units and categories,
the event store, the rpc methods and the ``case.submitted`` applier, API tokens."""
