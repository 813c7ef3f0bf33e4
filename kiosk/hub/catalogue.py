"""Centres and the services they offer, as configured in ``settings.hub.centres``."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.domain.queue import Service
from kiosk.protocol.rpc import RpcRefused
from kiosk.settings import HubSettings


@dataclass(frozen=True, slots=True)
class Centre:
    code: str
    name: str
    services: tuple[Service, ...]

    def service(self, code: str) -> Service:
        """The service ``code``; refused with ``unknown_service`` when the centre has none."""
        for service in self.services:
            if service.code == code:
                return service
        raise RpcRefused(
            "unknown_service",
            f"本中心没有此项业务（unknown service {code!r} at centre {self.code!r}）",
        )


class Catalogue:
    """Every centre this hub serves, looked up by code."""

    def __init__(self, centres: list[Centre]) -> None:
        self._centres = {centre.code: centre for centre in centres}
        if len(self._centres) != len(centres):
            raise ValueError("two centres share a code in settings.hub.centres")
        for centre in centres:
            _check_unique_services(centre)

    @classmethod
    def from_settings(cls, hub: HubSettings) -> Catalogue:
        return cls(
            [
                Centre(
                    code=centre.code,
                    name=centre.name,
                    services=tuple(Service(s.code, s.name, s.prefix) for s in centre.services),
                )
                for centre in hub.centres
            ]
        )

    @property
    def centres(self) -> list[Centre]:
        return list(self._centres.values())

    def find(self, code: str | None) -> Centre | None:
        return self._centres.get(code) if code else None

    def centre(self, code: str | None) -> Centre:
        """The centre ``code``; refused with ``unknown_centre`` when the hub has none."""
        centre = self.find(code)
        if centre is None:
            raise RpcRefused("unknown_centre", f"本系统没有这个服务中心（unknown centre {code!r}）")
        return centre


def _check_unique_services(centre: Centre) -> None:
    # Two services with one prefix would print the same number for different queues.
    for attribute in ("code", "prefix"):
        values = [getattr(service, attribute) for service in centre.services]
        if len(values) != len(set(values)):
            raise ValueError(f"centre {centre.code!r}: two services share a {attribute}")
