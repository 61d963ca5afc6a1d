"""Liveness, readiness and Prometheus metrics for operators, and the OpenAPI document."""
import logging
import os

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import text

from . import metrics
from .config import PROJECT_ROOT
from .extensions import db

log = logging.getLogger('rhystic.health')
bp = Blueprint('health', __name__)
OPENAPI = os.path.join(PROJECT_ROOT, 'docs', 'openapi.yaml')


@bp.get('/healthz')
def healthz():
    """The process is alive and serving; says nothing about what it depends on."""
    return jsonify({'status': 'ok'})


@bp.get('/readyz')
def readyz():
    """Ready for traffic: the database answers, and Redis too when it is configured."""
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
        log.warning('not ready: %s unreachable', names,
                    extra={'event': 'not_ready', 'reason': names})
        return jsonify({'status': 'unavailable', 'failing': failing,
                        'error': {'code': 'unavailable',
                                  'message': f'not ready: {names} unreachable'}}), 503
    return jsonify({'status': 'ready', 'checks': sorted(checks)})


def _check_database():
    try:
        db.session.execute(text('SELECT 1'))
    finally:
        db.session.rollback()


def _check_redis():
    import redis
    client = redis.Redis.from_url(current_app.config['REDIS_URL'], socket_timeout=2,
                                  socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@bp.get('/metrics')
def metrics_page():
    if not current_app.config['METRICS']:
        return jsonify({'error': {'code': 'not_found', 'message': 'metrics are off'}}), 404
    rooms = current_app.extensions['rhystic.rooms']
    metrics.ROOMS.set(len(rooms.store.room_ids()))
    if os.environ.get('PROMETHEUS_MULTIPROC_DIR'):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get('/api/openapi.yaml')
def openapi():
    return send_file(OPENAPI, mimetype='application/yaml', max_age=300)


def _count_status(response):
    if request.endpoint != 'health.metrics_page':
        metrics.HTTP.labels(status=str(response.status_code)).inc()
    return response


def init_app(app):
    app.register_blueprint(bp)
    app.after_request(_count_status)
