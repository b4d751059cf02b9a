"""What goes into a private node's config beyond the basics: its users, its cluster, TLS."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServerTls:
    """A TLS-only node: its certificate and key, the CA it trusts for client
    certificates (which may log in with RabbitMQ's EXTERNAL mechanism), and the host name
    its certificate gives (clients connect by it)."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    host: str = "localhost"

    def config(self, directory: Path, port: int) -> str:
        """Copies the files where the node's user can read them; the config lines."""
        tls_dir = directory / "tls"
        tls_dir.mkdir(exist_ok=True)
        for name, source in (("ca.pem", self.ca_file), ("cert.pem", self.cert_file),
                             ("key.pem", self.key_file)):  # fmt: skip
            shutil.copyfile(source, tls_dir / name)
        (directory / "enabled_plugins").write_text("[rabbitmq_auth_mechanism_ssl].\n")
        return (
            "listeners.tcp = none\n"
            f"listeners.ssl.default = 127.0.0.1:{port}\n"
            f"ssl_options.cacertfile = {tls_dir / 'ca.pem'}\n"
            f"ssl_options.certfile = {tls_dir / 'cert.pem'}\n"
            f"ssl_options.keyfile = {tls_dir / 'key.pem'}\n"
            "ssl_options.verify = verify_peer\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
            "auth_mechanisms.1 = PLAIN\n"
            "auth_mechanisms.2 = AMQPLAIN\n"
            "auth_mechanisms.3 = EXTERNAL\n"
            "ssl_cert_login_from = common_name\n"
        )


@dataclass(frozen=True)
class ClusterMembership:
    """What a node shares with the others of its cluster: one Erlang cookie, one port
    mapper (epmd), and the node list it joins at boot (RabbitMQ's classic peer discovery)."""

    cookie: str
    epmd_port: int
    nodes: tuple[str, ...]
    # Erlang's distribution notices a silent peer within this (its default is 60 s).
    net_ticktime: int = 5

    def config(self) -> str:
        lines = ["cluster_formation.peer_discovery_backend = classic_config"]
        lines += [f"cluster_formation.classic_config.nodes.{i} = {node}"
                  for i, node in enumerate(self.nodes, 1)]  # fmt: skip
        lines.append(f"net_ticktime = {self.net_ticktime}")
        return "\n".join(lines) + "\n"


def definitions(users: Mapping[str, str], vhosts: Sequence[str]) -> dict[str, Any]:
    """A broker definitions file: `users` (name: password), each allowed on every vhost."""
    return {
        "users": [
            {"name": name, "password": password, "tags": "administrator"}
            for name, password in users.items()
        ],
        "vhosts": [{"name": vhost} for vhost in vhosts],
        "permissions": [
            {"user": name, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
            for name in users
            for vhost in vhosts
        ],
    }
