"""Entry point of the calc PEX: ``python calc.pex`` runs the service."""

from launch import boot


def main() -> None:
    boot.run("calc.service:CalcService")
