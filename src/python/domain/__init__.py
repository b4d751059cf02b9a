"""The contract the services share: what a list of numbers is, the ``sum_computed`` event
and its schema, the errors that cross service boundaries, and the limits."""
