"""The process's `AmqpLink` as a Nameko shared extension, and what extensions need of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nameko.containers import ServiceContainer
from nameko.extensions import SharedExtension

from amqp_client.connect import LinkDown, Tls
from amqp_client.link import AmqpLink
from messaging.errors import BrokerUnavailable
from runtime.config import ContainerSettings, Settings


class SharedAmqpLink(SharedExtension):
    """The process's `AmqpLink`, shared by every extension that talks to the broker.

    Sessions join the link in their ``setup``; it connects in ``start`` (without
    waiting for the broker, so the service can answer health checks meanwhile) and
    closes after the service's workers have finished.
    """

    settings = ContainerSettings()
    _link: AmqpLink | None = None

    @property
    def link(self) -> AmqpLink:
        if self._link is None:
            settings = self.settings.values
            self._link = AmqpLink(settings.amqp_uri, settings.heartbeat, tls=tls_of(settings))
        return self._link

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    kill = stop


def tls_of(settings: Settings) -> Tls:
    """The TLS files of ``amqps://`` nodes, as the settings name them."""
    return Tls(settings.amqp_ca_file, settings.amqp_cert_file, settings.amqp_key_file)


@contextmanager
def broker_errors() -> Iterator[None]:
    """The link's `LinkDown`, raised to a caller as the `BrokerUnavailable` it handles."""
    try:
        yield
    except LinkDown as exc:
        raise BrokerUnavailable(str(exc)) from None


def worker_pool_has_room(container: ServiceContainer) -> Callable[[], bool]:
    """Whether ``container.spawn_worker`` would start a worker now, not wait for one.

    Nameko keeps its worker pool private; asking it spares a green thread per message
    (and Python 3.11 maps fresh memory for every new green thread).
    """
    pool = container._worker_pool
    return lambda: bool(pool.free() > 0)
