"""Entry point of the log PEX: ``python log.pex`` runs the service."""

from launch import boot


def main() -> None:
    boot.run("log.service:LogService")
