"""Entry point of the calc PEX: ``python calc.pex`` runs the service."""

from launch import boot

# Where calc serves /metrics unless METRICS_PORT says otherwise; log has its own.
METRICS_PORT = 9464


def main() -> None:
    boot.run("calc.service:CalcService", metrics_port=METRICS_PORT)
