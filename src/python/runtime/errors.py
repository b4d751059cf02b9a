"""The shape of an expected failure, and the one error a service raises before it runs.

Each error a caller may want to handle is a `ServiceError` subclass with a stable
``code``, so callers branch on types, never on message strings, and with the HTTP
status it stands for, so that the HTTP layer needs no table of other layers' errors.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


class PortUnavailable(ConfigError):
    """The port a setting names cannot be listened on: most often another process holds it.

    What a user needs is the setting to change, not the traceback of the bind: the
    service says that in one log line and exits (`launch.runner`).
    """

    def __init__(self, setting: str, address: str, error: OSError) -> None:
        super().__init__(f"cannot listen on {address} ({error.strerror}): change {setting}")


class ServiceError(Exception):
    """An expected failure, with a machine-readable ``code`` and a human message.

    Subclasses name their code and status in the class line:
    ``class Gone(ServiceError, code="gone", http_status=410)``.
    """

    code = "error"
    http_status = 500

    def __init_subclass__(cls, code: str = "", http_status: int = 0, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code:
            cls.code = code
        if http_status:
            cls.http_status = http_status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeadlineExceeded(ServiceError, code="timeout", http_status=504):
    """Work that did not finish within its deadline (a call, a confirm)."""
