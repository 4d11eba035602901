"""Control HTTP API under /_dhsim/ (JSON in, JSON out)."""

import json
import traceback
from urllib.parse import parse_qsl

from moto.core.base_backend import BackendDict, backend_lock
from moto.core.model_instances import reset_model_data

from . import ec2_hosts, scenario, services
from .ssm_commands import COMMANDS
from .capacity_units import WRITES
from .faults import CALLS, FAULTS
from .state import SIM
from .throttle import THROTTLE

PREFIX = "/_dhsim"


class ControlError(Exception):
    """A control request that cannot be served (HTTP 400 or 404)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def reset_moto():
    """Drop every moto backend; each is rebuilt empty on its next use.

    Same effect as moto's /moto-api/reset, without first rebuilding every backend that is then thrown away.
    """
    with backend_lock:
        for backend_dict in BackendDict._instances:  # pylint: disable=protected-access
            backend_dict.clear()
        BackendDict._instances.clear()  # pylint: disable=protected-access
    reset_model_data()


def reset_all():
    """Reset moto's backends and every simulator setting, fault and counter."""
    with SIM.lock:
        services.set_iam_enforcement(False)
        reset_moto()
        SIM.reset()
        FAULTS.clear()
        CALLS.reset()
        THROTTLE.reset()
        WRITES.reset()
        COMMANDS.reset()


def _named(body, kind, find_anywhere):
    """The host or instance a control call names by id or by its scenario name (kind: "host" or "instance")."""
    given = body.get(f"{kind}_id")
    dummy, found = find_anywhere(given or "")
    if found is None and given in SIM.names[f"{kind}s"]:
        dummy, found = find_anywhere(SIM.names[f"{kind}s"][given])
    if found is None:
        raise ControlError(f"unknown {kind} {given!r}", 404)
    return found


def _host(body):
    return _named(body, "host", ec2_hosts.find_host_anywhere)


def _instance(body):
    return _named(body, "instance", ec2_hosts.find_instance_anywhere)


def _health(_body):
    return {"status": "ok", "config": SIM.config()}


def _reset(_body):
    reset_all()
    return {"status": "ok"}


def _load_scenario(body):
    if body.get("reset", True):
        reset_all()
    source = body.get("scenario")
    if source is None and body.get("yaml") is not None:
        source = body["yaml"]
    if source is None and body.get("path"):
        source = body["path"]
    if source is None:
        raise ControlError("give 'scenario' (mapping), 'yaml' (text) or 'path'")
    try:
        return scenario.load(source)
    except (scenario.ScenarioError, ValueError, TypeError) as exc:
        raise ControlError("scenario error: %s" % exc) from exc


def _world(body):
    return ec2_hosts.world(ec2_hosts.backend_for(body.get("region")))


def _host_state(body):
    host = _host(body)
    if body.get("available_after") is not None and body.get("state") != "pending":
        raise ControlError("available_after needs state pending: only a pending host becomes available later")
    try:
        with SIM.lock:
            ec2_hosts.set_host_state(host, body.get("state"))
            if body.get("available_after") is not None:
                ec2_hosts.set_available_after(host, body["available_after"])
    except (ValueError, TypeError) as exc:
        raise ControlError(str(exc)) from exc
    return {"host_id": host.id, "state": host.state}


def _maintenance_replacement(body):
    host = _host(body)
    backend, dummy = ec2_hosts.find_host_anywhere(host.id)
    try:
        with SIM.lock:
            replacement = ec2_hosts.allocate_maintenance_replacement(backend, host, body.get("available_after"))
    except (ValueError, TypeError) as exc:
        raise ControlError(str(exc)) from exc
    return {"host_id": host.id, "replacement_host_id": replacement.id, "state": replacement.state}


def _quota(body):
    with SIM.lock:
        if body.get("default") is not None:
            SIM.default_quota = int(body["default"])
        if body.get("family"):
            if body.get("limit") is None:
                SIM.quotas.pop(body["family"], None)
            else:
                SIM.quotas[body["family"]] = int(body["limit"])
    return {"default_quota": SIM.default_quota, "quotas": dict(SIM.quotas)}


def _instance_events(body):
    instance = _instance(body)
    try:
        events = ec2_hosts.set_instance_events(instance, body.get("events") or [])
    except (ValueError, TypeError) as exc:
        raise ControlError(str(exc)) from exc
    return {"instance_id": instance.id, "events": [dict(e, NotBefore=e["NotBefore"].isoformat(), NotAfter=e["NotAfter"].isoformat())
                                                   for e in events]}


def _instance_status(body):
    instance = _instance(body)
    meta = ec2_hosts.inst_meta(instance)
    allowed = (None, "ok", "impaired", "initializing", "insufficient-data")
    for key in ("system", "instance"):
        if key in body:
            if body[key] not in allowed:
                raise ControlError("%s status must be one of %s" % (key, allowed))
            meta["%s_status" % key] = body[key]
    if "impaired_since" in body:
        try:
            meta["impaired_since"] = ec2_hosts.parse_moment(body["impaired_since"])
        except ValueError as exc:
            raise ControlError("impaired_since must be an ISO 8601 time or a number of seconds ago: %s" % exc) from exc
    return {"instance_id": instance.id, "system": meta["system_status"], "instance": meta["instance_status"],
            "impaired_since": meta["impaired_since"]}


def _complete_host_recovery(body):
    host = _host(body)
    backend, dummy = ec2_hosts.find_host_anywhere(host.id)
    try:
        with SIM.lock:
            replacement, moved = ec2_hosts.complete_host_recovery(backend, host)
    except ValueError as exc:
        raise ControlError(str(exc)) from exc
    return {"host_id": host.id, "state": host.state, "replacement_host_id": replacement.id, "moved_instance_ids": moved}


def _instance_behaviour(body):
    instance = _instance(body)
    meta = ec2_hosts.inst_meta(instance)
    for key in ("hang_on_stop", "stop_latency", "start_latency", "force_latency"):
        if key in body:
            meta[key] = body[key]
    return {"instance_id": instance.id, **{k: meta[k] for k in ("hang_on_stop", "stop_latency", "start_latency", "force_latency")}}


def _faults_list(_body):
    return {"faults": FAULTS.list()}


def _faults_add(body):
    specs = body.get("faults") if isinstance(body.get("faults"), list) else [body]
    added = []
    try:
        for spec in specs:
            added.append(FAULTS.add(**spec))
    except (TypeError, ValueError) as exc:
        raise ControlError("bad fault: %s" % exc) from exc
    return {"faults": added}


def _faults_clear(body):
    if body.get("id") is not None:
        FAULTS.remove(body["id"])
    else:
        FAULTS.clear()
    return {"faults": FAULTS.list()}


def _calls(body):
    return CALLS.snapshot(with_log=bool(body.get("log")))


def _calls_log(_body):
    return CALLS.snapshot(with_log=True)


def _calls_reset(_body):
    CALLS.reset()
    return {"status": "ok"}


def _latencies(body):
    with SIM.lock:
        records = [dict(r) for r in SIM.latency_log]
    if body.get("instance_id"):
        records = [r for r in records if r["instance_id"] == body["instance_id"]]
    return {"latencies": records}


def _latencies_reset(_body):
    with SIM.lock:
        SIM.latency_log = []
    return {"status": "ok"}


def _config(body):
    try:
        SIM.configure(time_scale=body.get("time_scale"), latency=body.get("latency"), seed=body.get("seed"))
    except (ValueError, TypeError) as exc:
        raise ControlError(str(exc)) from exc
    return SIM.config()


def _rate_limits(body):
    if not body:
        return THROTTLE.snapshot()
    try:
        return THROTTLE.configure(enabled=body.get("enabled"), requests=body.get("requests"), resources=body.get("resources"),
                                  reset_buckets=bool(body.get("reset_buckets")))
    except (ValueError, TypeError) as exc:
        raise ControlError("bad rate limits: %s" % exc) from exc


def _dynamodb_writes(body):
    return WRITES.snapshot(table=body.get("table") or None)


def _dynamodb_writes_reset(_body):
    WRITES.reset()
    return {"status": "ok"}


def _iam(body):
    enabled = bool(body.get("enabled"))
    with SIM.lock:
        services.set_iam_enforcement(enabled)
        SIM.iam_enabled = enabled
    return {"iam_enabled": enabled}


def _ssm_outcomes(body):
    specs = body.get("outcomes") if isinstance(body.get("outcomes"), list) else [body]
    rules = []
    try:
        for spec in specs:
            spec = dict(spec)
            if spec.get("instance_id") in SIM.names["instances"]:
                spec["instance_id"] = SIM.names["instances"][spec["instance_id"]]
            rules.append(COMMANDS.set_outcome(**spec))
    except (TypeError, ValueError) as exc:
        raise ControlError("bad SSM outcome: %s" % exc) from exc
    return {"rules": rules}


def _ssm_invocations(_body):
    return COMMANDS.snapshot()


ROUTES = {
    ("GET", "/health"): _health,
    ("POST", "/reset"): _reset,
    ("POST", "/scenario"): _load_scenario,
    ("GET", "/world"): _world,
    ("POST", "/hosts/state"): _host_state,
    ("POST", "/hosts/complete-recovery"): _complete_host_recovery,
    ("POST", "/hosts/maintenance-replacement"): _maintenance_replacement,
    ("GET", "/quota"): _quota,
    ("POST", "/quota"): _quota,
    ("POST", "/instances/events"): _instance_events,
    ("POST", "/instances/status"): _instance_status,
    ("POST", "/instances/behaviour"): _instance_behaviour,
    ("GET", "/faults"): _faults_list,
    ("POST", "/faults"): _faults_add,
    ("POST", "/faults/clear"): _faults_clear,
    ("DELETE", "/faults"): _faults_clear,
    ("GET", "/calls"): _calls,
    ("GET", "/calls/log"): _calls_log,
    ("POST", "/calls/reset"): _calls_reset,
    ("GET", "/latencies"): _latencies,
    ("POST", "/latencies/reset"): _latencies_reset,
    ("GET", "/config"): _config,
    ("POST", "/config"): _config,
    ("POST", "/iam"): _iam,
    ("GET", "/rate-limits"): _rate_limits,
    ("POST", "/rate-limits"): _rate_limits,
    ("GET", "/dynamodb/writes"): _dynamodb_writes,
    ("POST", "/dynamodb/writes/reset"): _dynamodb_writes_reset,
    ("POST", "/ssm/outcomes"): _ssm_outcomes,
    ("GET", "/ssm/invocations"): _ssm_invocations,
}


def _default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def handle(environ, start_response):
    """WSGI handler for the control API."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "")[len(PREFIX):].rstrip("/") or "/"
    handler = ROUTES.get((method, path))
    status = 200
    try:
        if handler is None:
            raise ControlError("no control route %s %s%s" % (method, PREFIX, path), 404)
        body = {}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            raw = environ["wsgi.input"].read(length)
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        if method == "GET" and environ.get("QUERY_STRING"):
            body.update(dict(parse_qsl(environ["QUERY_STRING"])))
        ec2_hosts.tick()
        result = handler(body)
    except ControlError as exc:
        status, result = exc.status, {"error": str(exc)}
    except (ValueError, KeyError, TypeError) as exc:
        status, result = 400, {"error": "%s: %s" % (type(exc).__name__, exc), "trace": traceback.format_exc()}
    data = json.dumps(result, default=_default).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    start_response("%d %s" % (status, reason), [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
