"""How a service class becomes a process: its PEX's commands (run, healthcheck, shell),
Nameko's runner with JSON logs, and the health probe."""
