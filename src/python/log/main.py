"""Entry point of the log PEX: ``python log.pex`` runs the service."""

from launch import boot

# Where log serves /metrics unless METRICS_PORT says otherwise; calc has its own.
METRICS_PORT = 9465


def main() -> None:
    boot.run("log.service:LogService", metrics_port=METRICS_PORT)
