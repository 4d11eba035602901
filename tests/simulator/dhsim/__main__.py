"""Command line: python -m dhsim --port 0 --scenario FILE.yml --time-scale 0.1."""

import argparse
import signal
import sys
import threading

from . import ec2_hosts, fleet, scenario
from .server import SimulatorServer


def format_world(world, ids):
    """Render the built world as two readable tables."""
    lines = ["", "HOSTS"]
    host_rows = [("NAME", "HOST ID", "STATE", "FAMILY/TYPE", "AZ", "AUTO", "vCPU FREE", "TAGS")]
    for host in world["hosts"]:
        tags = ",".join("%s=%s" % item for item in sorted(host["tags"].items()))
        host_rows.append((host["name"] or "-", host["host_id"], host["state"], host["instance_type"] or host["instance_family"] + ".*",
                          host["availability_zone"], host["auto_placement"], "%s/%s" % (host["available_vcpus"], host["total_vcpus"]), tags))
    lines.extend(_table(host_rows))
    lines.extend(["", "CAPACITY (available instances per size)"])
    for host in world["hosts"]:
        sizes = ", ".join("%s %s" % (k.split(".")[1], v) for k, v in host["available_capacity"].items())
        lines.append("  %-14s %s" % (host["name"] or host["host_id"], sizes))
    lines.extend(["", "INSTANCES"])
    names = {v: k for k, v in ids.get("hosts", {}).items()}
    inst_rows = [("NAME", "INSTANCE ID", "TYPE", "STATE", "HOST", "AFFINITY", "TENANCY")]
    for inst in world["instances"]:
        host = inst["host_id"] or "-"
        if inst["host_id"] in names:
            host = "%s (%s)" % (inst["host_id"], names[inst["host_id"]])
        inst_rows.append((inst["name"] or "-", inst["instance_id"], inst["instance_type"], inst["state"], host,
                          inst["affinity"] or "-", inst["tenancy"]))
    lines.extend(_table(inst_rows))
    return "\n".join(lines)


def _table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def main(argv=None):
    """Run the simulator until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="dhsim", description="EC2 Dedicated Host simulator on moto's server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--scenario", help="scenario YAML file to load at start")
    parser.add_argument("--time-scale", type=float, default=None, help="multiplies every simulated latency")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--seed", type=int, default=None, help="seed for drawn latencies")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--fleet", metavar="FLEET_YML", help="fleet mode: serve a generated read-only fleet (dhsim/fleet.py) instead of moto")
    args = parser.parse_args(argv)
    if args.fleet:
        return run_fleet(args)

    data = scenario.read(args.scenario) if args.scenario else {}
    time_scale = args.time_scale if args.time_scale is not None else float(data.get("time_scale", 1.0))
    server = SimulatorServer(args.host, args.port, time_scale=time_scale, region=data.get("region") or args.region,
                             seed=args.seed, verbose=args.verbose)
    endpoint = server.start()
    stop = _stop_on_signal()
    ids = None
    if args.scenario:
        if args.time_scale is not None:
            data = dict(data, time_scale=args.time_scale)
        ids = scenario.load(data)
    # the scenario is built before the endpoint is announced, so a reader of the first line never sees an empty world
    sys.stdout.write("AWS_ENDPOINT_URL=%s\n" % endpoint)
    sys.stdout.flush()
    if ids is not None:
        sys.stdout.write(format_world(ec2_hosts.world(ec2_hosts.backend_for(data.get("region") or args.region)), ids) + "\n")
        sys.stdout.flush()
    _serve_until(stop, server)
    return 0


def run_fleet(args):
    """Fleet mode: generate the fleet, announce the endpoint, serve until SIGTERM or SIGINT."""
    server = fleet.FleetServer(fleet.read_spec(args.fleet), args.host, args.port)
    endpoint = server.start()
    stop = _stop_on_signal()
    sys.stdout.write("AWS_ENDPOINT_URL=%s\n" % endpoint)
    sys.stdout.write(fleet.format_summary(server.fleet.summary()) + "\n")
    sys.stdout.flush()
    _serve_until(stop, server)
    return 0


def _stop_on_signal():
    """An event that SIGTERM or SIGINT sets."""
    stop = threading.Event()

    def _stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def _serve_until(stop, server):
    while not stop.wait(0.5):
        pass
    server.stop()


if __name__ == "__main__":
    sys.exit(main())
