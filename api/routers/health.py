"""``GET /health``: is the service able to work (AMI link up, database answering)?"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import ServicesDep
from api.recordings_usage import recordings_usage
from api.schemas import DatabaseHealth, HealthOut

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


def _ami(services: ServicesDep) -> dict[str, Any]:
    try:
        return dict(services.ami_status())
    except Exception as exc:  # a broken status callback must not break the health check
        log.exception("ami_status() failed")
        return {"connected": False, "error": f"{type(exc).__name__}: {exc}"}


@router.get(
    "/health",
    summary="Service health (no token needed)",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthOut}},
)
async def health(services: ServicesDep, response: Response) -> HealthOut:
    """200 when the AMI link is connected and the database answers ``SELECT 1``; 503
    otherwise, with the same body saying which part is down. For load balancers and
    monitoring, so it needs no token and answers within a few seconds even if the database
    hangs. ``recordings``: the recordings kept and their disk's room (null where none are
    made); it does not change the status."""
    ami = _ami(services)
    database_ok = await services.db.ping()
    healthy = ami.get("connected") is True and database_ok
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if healthy else "degraded",
        ami=ami,
        database=DatabaseHealth(ok=database_ok),
        recordings=await recordings_usage(services) if database_ok else None,
    )
