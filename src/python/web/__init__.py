"""The HTTP layer: a lean HTTP/1.1 server for WSGI apps (`server`, `request`), and on it
Nameko's ``@http`` entrypoint with JSON in and out (`app`, `body`)."""
