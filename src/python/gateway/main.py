"""Entry point of the gateway PEX: ``python gateway.pex`` runs the service."""

from launch import boot


def main() -> None:
    boot.run("gateway.service:GatewayService")
