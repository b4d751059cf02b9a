"""Entry point of the calc PEX: ``python calc.pex`` runs the service."""

from shared import boot


def main() -> None:
    boot.run("calc.service:CalcService")
