"""The stack on one machine without containers: a private RabbitMQ node and the service
PEXes as processes. ``./stack`` runs it when no container engine can, the tests and the
benchmark start their brokers and services with it."""
