"""Operations endpoints: liveness of the process, readiness (models loaded), Prometheus metrics."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
async def readyz() -> Response:
    from webapp.app import services

    svc = services()
    ready = svc.engine.models is not None
    response = jsonify({"status": "ready" if ready else "loading", "models": ready,
                        "workers": svc.pool.workers, "in_flight": svc.pool.in_flight})
    response.status_code = 200 if ready else 503
    return response


@blueprint.get("/metrics")
async def metrics() -> Response:
    from webapp.app import services

    svc = services()
    text = svc.metrics.render({
        "livecheck_workers": svc.pool.workers,
        "livecheck_requests_in_flight": svc.pool.in_flight,
        "livecheck_detections_cached": len(svc.detections),
    })
    return Response(text, content_type="text/plain; version=0.0.4; charset=utf-8")
