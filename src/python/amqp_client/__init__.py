"""The AMQP 0-9-1 client layer: frames, socket I/O, the per-process connection (`AmqpLink`)
and what lives on it (sessions, queue subscriptions). It knows nothing of Nameko: the
messaging layer builds Nameko's entrypoints and dependencies on it."""
