"""Operations endpoints: liveness of the process, readiness (models loaded, not draining), Prometheus metrics."""

from __future__ import annotations

from enum import StrEnum

from quart import Blueprint, Response, jsonify

from realtime.store import StoreError
from webapp.metrics import CONTENT_TYPE
from webapp.services import services

blueprint = Blueprint("ops", __name__)


class Readiness(StrEnum):
    """`/readyz` status: only READY answers 200."""

    READY = "ready"
    LOADING = "loading"  # the models are not loaded yet
    DRAINING = "draining"  # SIGTERM: finishing running work, taking none
    STORE_UNAVAILABLE = "store_unavailable"


@blueprint.get("/healthz")
async def healthz() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
async def readyz() -> Response:
    svc = services()
    loaded = svc.engine.models is not None
    draining = svc.lifecycle.draining  # SIGTERM: the load balancer must stop sending this node work at once
    try:
        await svc.store.ping()
        store_ok = True
    except StoreError:
        store_ok = False
    status = (
        Readiness.DRAINING
        if draining
        else Readiness.STORE_UNAVAILABLE
        if not store_ok
        else Readiness.READY
        if loaded
        else Readiness.LOADING
    )
    response = jsonify(
        {
            "status": status,
            "models": loaded,
            "store": store_ok,
            "node": svc.lifecycle.node_id,
            "workers": svc.pool.workers,
            "in_flight": svc.pool.in_flight,
            # live checks this node still admits at the guaranteed rate (a load balancer routes new ones by it)
            "live": svc.sessions().headroom().to_dict(),
        }
    )
    response.status_code = 200 if status == Readiness.READY else 503
    return response


@blueprint.get("/metrics")
async def metrics() -> Response:
    svc = services()
    await svc.metrics.refresh()
    text = svc.metrics.render(
        {
            "livecheck_workers": svc.pool.workers,
            "livecheck_requests_in_flight": svc.pool.in_flight,
            "livecheck_detections_cached": await svc.detections.count(),
        }
    )
    return Response(text, content_type=CONTENT_TYPE)
