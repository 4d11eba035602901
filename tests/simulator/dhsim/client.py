"""Python client for the simulator's control API."""

import json
import urllib.error
import urllib.request

import yaml


class ControlAPIError(RuntimeError):
    """The control API answered with an error."""

    def __init__(self, status, payload):
        super().__init__("control API error %s: %s" % (status, payload.get("error", payload)))
        self.status = status
        self.payload = payload


class SimulatorControl:
    """Wraps every /_dhsim/ route."""

    def __init__(self, endpoint, timeout=30):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.endpoint + "/_dhsim" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            payload = exc.read().decode("utf-8")
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = {"error": payload}
            raise ControlAPIError(exc.code, parsed) from exc

    def health(self):
        """Server status and configuration."""
        return self._call("GET", "/health")

    def reset(self):
        """Reset moto's backends, faults, counters, latencies, quotas and settings."""
        return self._call("POST", "/reset")

    def load_scenario(self, scenario, reset=True):
        """Load a scenario (dict, YAML text or a path to a .yml file); returns {"hosts": {...}, "instances": {...}}."""
        if isinstance(scenario, dict):
            body = {"scenario": scenario}
        elif str(scenario).endswith((".yml", ".yaml")) and "\n" not in str(scenario):
            with open(scenario, encoding="utf-8") as handle:
                body = {"scenario": yaml.safe_load(handle)}
        else:
            body = {"yaml": str(scenario)}
        body["reset"] = reset
        return self._call("POST", "/scenario", body)

    def world(self, region=None):
        """Hosts and instances with their state, placement and capacity."""
        return self._call("GET", "/world" + ("?region=%s" % region if region else ""))

    def fleet(self):
        """Fleet mode only: the generated fleet and the health class each failed or degraded host must get."""
        return self._call("GET", "/fleet")

    def set_host_state(self, host_id, state, available_after=None):
        """Move a host (id or scenario name) to any allocation state; a ``pending`` one becomes ``available`` after
        ``available_after`` seconds when given."""
        return self._call("POST", "/hosts/state", {"host_id": host_id, "state": state, "available_after": available_after})

    def set_quota(self, family=None, limit=None, default=None):
        """Set the host quota of one family (limit None removes it) and/or the default quota."""
        return self._call("POST", "/quota", {"family": family, "limit": limit, "default": default})

    def get_quota(self):
        """Current host quotas."""
        return self._call("GET", "/quota")

    def set_instance_events(self, instance_id, events):
        """Replace scheduled events: [{"code": "instance-retirement", "not_before": ISO, "not_after": ISO, "description": ...}]."""
        return self._call("POST", "/instances/events", {"instance_id": instance_id, "events": events})

    def set_instance_status(self, instance_id, system="unset", instance="unset", impaired_since="unset"):
        """Override system/instance status (ok, impaired, initializing, insufficient-data; None = derived).

        ``impaired_since``: ISO 8601 time or seconds ago (number or "N seconds ago"); None = when first seen impaired.
        """
        body = {"instance_id": instance_id}
        if system != "unset":
            body["system"] = system
        if instance != "unset":
            body["instance"] = instance
        if impaired_since != "unset":
            body["impaired_since"] = impaired_since
        return self._call("POST", "/instances/status", body)

    def complete_host_recovery(self, host_id):
        """Finish AWS host recovery: replacement host, running instances moved there, old host released-permanent-failure."""
        return self._call("POST", "/hosts/complete-recovery", {"host_id": host_id})

    def allocate_maintenance_replacement(self, host_id, available_after=None):
        """Start AWS host maintenance: a like replacement host in ``pending``, ``available`` after ``available_after`` s."""
        return self._call("POST", "/hosts/maintenance-replacement", {"host_id": host_id, "available_after": available_after})

    def set_instance_behaviour(self, instance_id, **behaviour):
        """Set hang_on_stop, stop_latency, start_latency or force_latency (seconds before time scaling)."""
        return self._call("POST", "/instances/behaviour", dict(behaviour, instance_id=instance_id))

    def add_fault(self, service, action=None, code=None, **options):
        """Add a fault: options message, status, count (None = always), rate, seed, instance_id, delay."""
        spec = dict(options, service=service, action=action, code=code)
        return self._call("POST", "/faults", spec)["faults"][0]

    def add_faults(self, faults):
        """Add several faults at once."""
        return self._call("POST", "/faults", {"faults": list(faults)})["faults"]

    def faults(self):
        """Active faults with their fired/seen counters."""
        return self._call("GET", "/faults")["faults"]

    def clear_faults(self, fault_id=None):
        """Remove one fault, or all of them."""
        return self._call("POST", "/faults/clear", {"id": fault_id})

    def calls(self, log=False):
        """Call counts {service: {action: n}} and total (plus the detailed log when log=True)."""
        return self._call("GET", "/calls" + ("?log=1" if log else ""))

    def call_count(self, service, action):
        """How many times one action was called."""
        return self.calls()["counts"].get(service, {}).get(action, 0)

    def call_log(self):
        """Detailed log: time, service, action, instance ids, status, code, injected, duration."""
        return self._call("GET", "/calls/log")["log"]

    def reset_calls(self):
        """Forget every recorded call."""
        return self._call("POST", "/calls/reset")

    def latencies(self, instance_id=None):
        """Drawn per-instance stop/start latencies (seconds, already time-scaled)."""
        return self._call("GET", "/latencies" + ("?instance_id=%s" % instance_id if instance_id else ""))["latencies"]

    def reset_latencies(self):
        """Forget the recorded latencies."""
        return self._call("POST", "/latencies/reset")

    def config(self):
        """Current time scale, latencies, quotas and IAM switch."""
        return self._call("GET", "/config")

    def configure(self, time_scale=None, latency=None, seed=None):
        """Change the time scale, base latencies (partial dict) or random seed."""
        return self._call("POST", "/config", {"time_scale": time_scale, "latency": latency, "seed": seed})

    def set_ec2_rate_limits(self, enabled=True, requests=None, resources=None, reset_buckets=False):
        """Switch EC2's token buckets on or off; optional size overrides {action: [maximum, refill per second]}."""
        return self._call("POST", "/rate-limits", {"enabled": enabled, "requests": requests, "resources": resources,
                                                   "reset_buckets": reset_buckets})

    def ec2_rate_limits(self):
        """Switch, overrides, bucket levels per region, passed and throttled counts per action."""
        return self._call("GET", "/rate-limits")

    def dynamodb_writes(self, table=None):
        """Measured DynamoDB writes (item sizes, WCU) and totals per table."""
        return self._call("GET", "/dynamodb/writes" + ("?table=%s" % table if table else ""))

    def reset_dynamodb_writes(self):
        """Forget the measured DynamoDB writes."""
        return self._call("POST", "/dynamodb/writes/reset")

    def set_iam(self, enabled):
        """Enable or disable IAM enforcement (create users and policies before enabling)."""
        return self._call("POST", "/iam", {"enabled": bool(enabled)})

    def set_ssm_outcome(self, outcome, instance_id=None, document=None, output="", code=None, seconds=None):
        """The outcome of SSM commands for an instance, a document or both (dhsim/ssm_commands.py): success, failed,
        timeout, offline or unregistered; ``seconds`` (before the time scale) an invocation runs before it ends."""
        return self._call("POST", "/ssm/outcomes", {"outcome": outcome, "instance_id": instance_id, "document": document,
                                                    "output": output, "code": code, "seconds": seconds})

    def ssm_invocations(self):
        """The outcome rules and every SSM command invocation sent, in the order sent, with its current status."""
        return self._call("GET", "/ssm/invocations")
