"""Process-wide simulator settings: time scale, latencies, quotas, random source."""

import random
import threading
import time

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_LATENCY = {
    "stop": 20.0,         # graceful stop: stopping -> stopped
    "start": 15.0,        # start or launch: pending -> running
    "force_stop": 3.0,    # StopInstances Force=true or SkipOsShutdown=true
    "host_modify": 0.0,   # ModifyHosts type change: host stays 'pending'
    "jitter": 0.2,        # each drawn latency is base * uniform(1 - jitter, 1 + jitter)
}
DEFAULT_HOST_QUOTA = 10


class SimState:
    """Mutable simulator settings shared by the EC2 patches, the control API and the fault layer."""

    def __init__(self, time_scale=1.0, region="us-east-1", seed=None):
        self.lock = threading.RLock()
        self.base_time_scale = float(time_scale)
        self.region = region
        self.base_seed = seed
        self.reset()

    def reset(self):
        """Return every setting to the values the server was started with."""
        with self.lock:
            self.time_scale = self.base_time_scale
            self.latency = dict(DEFAULT_LATENCY)
            self.rng = random.Random(self.base_seed)
            self.default_quota = DEFAULT_HOST_QUOTA
            self.quotas = {}
            self.latency_log = []
            self.names = {"hosts": {}, "instances": {}}
            self.iam_enabled = False
            self.backends = []

    def configure(self, time_scale=None, latency=None, seed=None):
        """Change time scale, latencies (partial dict) or the random seed."""
        with self.lock:
            if time_scale is not None:
                self.time_scale = float(time_scale)
            if latency:
                for key, value in latency.items():
                    if key not in DEFAULT_LATENCY:
                        raise ValueError("unknown latency key %r (known: %s)" % (key, ", ".join(sorted(DEFAULT_LATENCY))))
                    self.latency[key] = float(value)
            if seed is not None:
                self.rng = random.Random(seed)

    def config(self):
        """Current settings as a dict."""
        return {
            "time_scale": self.time_scale,
            "latency": dict(self.latency),
            "default_quota": self.default_quota,
            "quotas": dict(self.quotas),
            "iam_enabled": self.iam_enabled,
            "region": self.region,
        }

    def quota_for(self, family):
        """Host quota (non-released hosts per family and region)."""
        return self.quotas.get(family, self.default_quota)

    def draw(self, kind, base=None):
        """Draw one scaled latency in seconds for kind (stop, start, force_stop, host_modify)."""
        with self.lock:
            value = self.latency[kind] if base is None else float(base)
            jitter = self.latency.get("jitter", 0.0)
            factor = self.rng.uniform(1.0 - jitter, 1.0 + jitter) if jitter else 1.0
            return max(0.0, value * factor * self.time_scale)

    def record_latency(self, instance_id, action, seconds, note=None):
        """Remember a drawn latency so a benchmark can read it back."""
        with self.lock:
            self.latency_log.append({
                "time": time.time(), "instance_id": instance_id, "action": action,
                "seconds": seconds, "time_scale": self.time_scale, "note": note,
            })

    def register_backend(self, backend):
        """Remember an EC2 backend whose instances need deadline processing."""
        with self.lock:
            if not any(b is backend for b in self.backends):
                self.backends.append(backend)


SIM = SimState()
