"""Scenario builders shared by the integration tests (the simulator's scenario format: tests/simulator/README.md)."""

DEFAULT_LATENCY = {"stop": 20, "start": 15, "force_stop": 3, "jitter": 0.2}


def world(hosts, instances, latency=None, seed=7, **extra):
    return dict({"region": "us-east-1", "seed": seed, "latency": latency or DEFAULT_LATENCY, "hosts": hosts, "instances": instances}, **extra)


def load(simulator, scenario):
    """Load a scenario into the simulator the test started with (its table already made)."""
    return simulator.load_scenario(scenario, reset=False)


def failed_host(name="failed", **extra):
    return dict({"name": name, "availability_zone": "us-east-1a", "instance_family": "m5", "state": "permanent-failure",
                 "host_recovery": "off", "host_maintenance": "off", "tags": {"Name": name, "CostCenter": "42"}}, **extra)


def pool_host(name="pool", **extra):
    return dict({"name": name, "availability_zone": "us-east-1a", "instance_family": "m5", "state": "available",
                 "tags": {"Role": "Reserved"}}, **extra)


def on_host(host, name, instance_type="m5.large", **extra):
    return dict({"name": name, "host": host, "instance_type": instance_type, "state": "running", "affinity": "host"}, **extra)


def on_failed(name, instance_type="m5.large", **extra):
    return on_host("failed", name, instance_type, **extra)
