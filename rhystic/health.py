"""Liveness, readiness and Prometheus metrics for operators."""
import os

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY
from sqlalchemy import text

from . import metrics
from .extensions import db

bp = Blueprint('health', __name__)


@bp.get('/healthz')
def healthz():
    return jsonify({'status': 'ok'})


@bp.get('/readyz')
def readyz():
    checks = {'database': _check_database}
    if current_app.config['REDIS_URL']:
        checks['redis'] = _check_redis
    failing = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:
            failing[name] = exc.__class__.__name__
    if failing:
        names = ', '.join(sorted(failing))
        return jsonify({'status': 'unavailable', 'failing': failing,
                        'error': {'code': 'unavailable',
                                  'message': f'not ready: {names} unreachable'}}), 503
    return jsonify({'status': 'ready', 'checks': sorted(checks)})


def _check_database():
    db.session.execute(text('SELECT 1'))
    db.session.rollback()


def _check_redis():
    import redis
    redis.Redis.from_url(current_app.config['REDIS_URL'], socket_timeout=2).ping()


@bp.get('/metrics')
def metrics_page():
    rooms = current_app.extensions['rhystic.rooms']
    signaling = current_app.extensions['rhystic.signaling']
    metrics.PEERS.set(len(signaling.sessions))
    metrics.ROOMS.set(len(rooms.store.room_ids()))
    if os.environ.get('PROMETHEUS_MULTIPROC_DIR'):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _count_status(response):
    if request.endpoint != 'health.metrics_page':
        metrics.HTTP.labels(status=str(response.status_code)).inc()
    return response


def init_app(app):
    app.register_blueprint(bp)
    app.after_request(_count_status)
