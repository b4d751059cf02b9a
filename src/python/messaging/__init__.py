"""Nameko's extension points over the `amqp_client` link, grouped as Nameko groups them:
RPC (the ``@rpc`` entrypoint and the client proxy) in `rpc`, events (the confirmed
publisher and ``@event_handler``) in `events`."""
