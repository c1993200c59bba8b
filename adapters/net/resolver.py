"""Host names to IP addresses through the system resolver (getaddrinfo, off the event loop)."""

from __future__ import annotations

import asyncio
import socket


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise LookupError(f"{host!r} cannot be resolved") from exc
        # Ordered as getaddrinfo prefers them (RFC 6724), without repeats.
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
