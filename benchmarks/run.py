"""Failover benchmark: ansible-playbook playbooks/failover.yml against the simulator, measured.

    make bench                                   # every scenario (B1-B4), then the table
    .venv/bin/python benchmarks/run.py --quick   # fewer instances: a smoke test of the harness
    .venv/bin/python benchmarks/run.py --scenario B3 [--scenario B1 ...]

Every run starts its own simulator process (tests/simulator/server.py) with a scenario written to
.work/bench/runs/<run>/scenario.yml, creates the migration table with playbooks/setup.yml (not timed), then runs

    ansible-playbook playbooks/failover.yml -e failed_host_id=<the failed host>

with nothing else set unless the scenario says so (B2's serial run adds failover_concurrency=1). Figures come from
that run only: its wall time (time.monotonic around the process), its peak memory (os.wait4's ru_maxrss of the
process tree, and the summed RSS of the tree sampled from /proc), and what the simulator answered and drew (call log,
per-instance stop/start latencies, EC2 throttling counters, DynamoDB writes with their item sizes). Nothing is
estimated. The table goes to stdout and every figure to .work/bench/results.json (docs/performance.md explains them).
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "simulator"))

from dhsim.client import SimulatorControl  # noqa: E402  pylint: disable=wrong-import-position

PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
SERVER = os.path.join(ROOT, "tests", "simulator", "server.py")
OUT = os.path.join(ROOT, ".work", "bench")
TABLE = "HostMigrationQueue"
REGION = "us-east-1"
SEED = 20260101
# B1's latencies (seconds), also used by B2 and B4: the reference notes' suggestion for a graceful stop is longer;
# these are the numbers.
# The stop latency applies to forced stops too: the product forces the stop at once on a permanent-failure host (the
# simulator reports its running instances impaired), and the scenario says a stop takes 20 s.
B1_LATENCY = {"stop": 20, "start": 15, "force_stop": 20, "jitter": 0.2}
ZERO_LATENCY = {"stop": 0, "start": 0, "force_stop": 0, "host_modify": 0, "jitter": 0}
STOP_ACTIONS = ("stop", "force_stop", "skip_os_shutdown")

TARGETS = {
    "B1.ratio": 1.2,
    "B2.serial_vs_sum": 1.10,
    "B2.parallel_vs_max": 1.20,
    "B3.ec2_calls_per_instance": 5.0,
    "B3.dynamodb_writes_per_instance": 4.0,
    "B3.seconds_per_extra_instance": 0.1,
    "B4.ratio_48": 1.5,
    "B4.failed_instances_192": 0,
}


# --------------------------------------------------------------------------- scenarios

def world(family, instance_type, count, latency, rate_limits=False):
    """One failed host full of running instances, one reserved host of the same family in the pool."""
    data = {
        "region": REGION,
        "time_scale": 1.0,
        "seed": SEED,
        "latency": dict(latency),
        "hosts": [
            {"name": "failed", "instance_family": family, "state": "permanent-failure", "tags": {"Name": "bench-failed"}},
            {"name": "reserved", "instance_family": family, "tags": {"Role": "Reserved", "Name": "bench-reserved"}},
        ],
        "instances": [{"name": "vm", "host": "failed", "instance_type": instance_type, "count": count, "state": "running"}],
    }
    if rate_limits:
        data["ec2_rate_limits"] = True
    return data


def sizes(quick):
    """Instance counts per scenario (full, or --quick)."""
    if quick:
        return {"B1": 8, "B2": 2, "B3": (2, 4, 8), "B4": (8, 16)}
    return {"B1": 48, "B2": 8, "B3": (8, 48, 192), "B4": (48, 192)}


# --------------------------------------------------------------------------- machine

def machine():
    """What the figures were taken on."""
    info = {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    info["memory_gib"] = round(int(line.split()[1]) / 1024.0 / 1024.0, 1)
    except OSError:
        pass
    try:
        info["ansible_core"] = subprocess.run([PLAYBOOK, "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    except OSError:
        pass
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
        info["worktree_modified"] = bool(dirty.strip())
    except OSError:
        pass
    return info


def load_average():
    """1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


# --------------------------------------------------------------------------- processes

def _children_map():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return children


def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root):
    """Summed RSS (KiB) of a process and all its descendants, and how many processes that is."""
    children = _children_map()
    todo, total, count = [root], 0, 0
    while todo:
        pid = todo.pop()
        total += _rss_kib(pid)
        count += 1
        todo.extend(children.get(pid, []))
    return total, count


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process tree until stopped; keeps the peak."""

    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.peak_processes = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            total, count = tree_rss_kib(self.pid)
            self.samples += 1
            if total > self.peak_kib:
                self.peak_kib, self.peak_processes = total, count
            self.done.wait(self.interval)


class Simulator:
    """A simulator process for one run."""

    def __init__(self, run_dir, scenario):
        self.run_dir = run_dir
        self.scenario_path = os.path.join(run_dir, "scenario.yml")
        with open(self.scenario_path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(scenario, handle, sort_keys=False)
        self.log_path = os.path.join(run_dir, "simulator.log")
        self.process = None
        self.endpoint = None
        self.control = None

    def __enter__(self):
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen([PYTHON, SERVER, "--port", "0", "--scenario", self.scenario_path],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            with open(self.log_path, encoding="utf-8") as log:
                first = log.readline().strip()
            if first.startswith("AWS_ENDPOINT_URL="):
                self.endpoint = first.split("=", 1)[1]
                self.control = SimulatorControl(self.endpoint, timeout=120)
                return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError("the simulator did not start; see %s" % self.log_path)

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def environment(endpoint):
    """The user's environment, pointed at the simulator with dummy credentials."""
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench-secret-not-real",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".work", "collections"),
        ANSIBLE_HOME=os.path.join(ROOT, ".work", "ansible-home"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""),
    )
    env.pop("AWS_PROFILE", None)
    return env


def run_playbook(env, name, extra_vars, log_path, timeout):
    """Run one playbook; returns rc, wall seconds, ru_maxrss of the tree (KiB) and the sampled tree peak."""
    command = [PLAYBOOK, os.path.join(ROOT, "playbooks", name)]
    for key, value in extra_vars.items():
        command += ["-e", "%s=%s" % (key, value)]
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ %s\n" % " ".join(command))
        log.flush()
        started = time.monotonic()
        started_epoch = time.time()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        sampler = TreeSampler(process.pid)
        sampler.start()
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            # wait4 reports the child's rusage including every descendant it reaped: ru_maxrss is the largest
            # resident set of any single process of the tree (ansible-playbook, its workers, the module processes).
            dummy, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - started
        ended_epoch = time.time()
        sampler.done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": " ".join(os.path.relpath(part, ROOT) if part.startswith(ROOT) else part for part in command),
        "rc": process.returncode,
        "wall_seconds": round(wall, 3),
        "started_epoch": started_epoch,
        "ended_epoch": ended_epoch,
        "max_rss_mib": round(usage.ru_maxrss / 1024.0, 1),
        "tree_rss_peak_mib": round(sampler.peak_kib / 1024.0, 1),
        "tree_rss_peak_processes": sampler.peak_processes,
        "tree_rss_samples": sampler.samples,
        "user_cpu_seconds": round(usage.ru_utime, 2),
        "system_cpu_seconds": round(usage.ru_stime, 2),
        "log": os.path.relpath(log_path, ROOT),
    }


# --------------------------------------------------------------------------- one measured failover

def read_record(control_endpoint, host_id):
    """The migration record, deserialised."""
    import boto3  # pylint: disable=import-outside-toplevel
    from boto3.dynamodb.types import TypeDeserializer  # pylint: disable=import-outside-toplevel

    client = boto3.client("dynamodb", endpoint_url=control_endpoint, region_name=REGION, aws_access_key_id="bench",
                          aws_secret_access_key="bench-secret-not-real")
    item = client.get_item(TableName=TABLE, Key={"HostId": {"S": host_id}}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def per_instance_latencies(records, instance_ids):
    """{instance: {stop, start, total, draws}} from the simulator's latency log (seconds as drawn)."""
    result = {}
    for instance_id in instance_ids:
        mine = [r for r in records if r["instance_id"] == instance_id]
        stops = [r for r in mine if r["action"] in STOP_ACTIONS]
        starts = [r for r in mine if r["action"] == "start"]
        stop = _stop_duration(stops)
        start = starts[-1]["seconds"] if starts else None
        result[instance_id] = {
            "stop": None if stop is None else round(stop, 3),
            "start": None if start is None else round(start, 3),
            "total": None if stop is None or start is None else round(stop + start, 3),
            "stop_draws": len(stops), "start_draws": len(starts),
        }
    return result


def _stop_duration(stops):
    """How long the instance took to stop, from the first StopInstances: the earliest deadline any stop call set."""
    if not stops:
        return None
    first = stops[0]["time"]
    ends = [r["time"] + r["seconds"] for r in stops if r["seconds"] is not None]
    return (min(ends) - first) if ends else None


def failover(label, scenario, extra_vars=None, timeout=3600):
    """Run one failover in a fresh simulator and collect every figure of it."""
    run_dir = os.path.join(OUT, "runs", label)
    os.makedirs(run_dir, exist_ok=True)
    print("[bench] %s: starting the simulator" % label, flush=True)
    with Simulator(run_dir, scenario) as sim:
        names = sim.control.world()
        hosts = {h["name"]: h["host_id"] for h in names["hosts"]}
        instances = sorted(i["instance_id"] for i in names["instances"] if i["host_id"] == hosts["failed"])
        env = environment(sim.endpoint)
        setup = run_playbook(env, "setup.yml", {}, os.path.join(run_dir, "setup.log"), timeout=600)
        if setup["rc"] != 0:
            raise RuntimeError("%s: playbooks/setup.yml failed; see %s" % (label, setup["log"]))
        sim.control.reset_calls()
        sim.control.reset_latencies()
        sim.control.reset_dynamodb_writes()
        throttle_before = sim.control.ec2_rate_limits()
        variables = {"failed_host_id": hosts["failed"]}
        variables.update(extra_vars or {})
        load_before = load_average()
        print("[bench] %s: ansible-playbook playbooks/failover.yml %s (%d instances, load %s)"
              % (label, " ".join("-e %s=%s" % kv for kv in variables.items()), len(instances), load_before), flush=True)
        run = run_playbook(env, "failover.yml", variables, os.path.join(run_dir, "failover.log"), timeout=timeout)
        load_after = load_average()
        # Read everything the simulator saw before the harness makes any call of its own.
        calls = sim.control.calls(log=True)
        latencies = sim.control.latencies()
        throttle = sim.control.ec2_rate_limits()
        writes = sim.control.dynamodb_writes()
        after = sim.control.world()
        record = read_record(sim.endpoint, hosts["failed"])
    for name, data in (("calls.json", calls), ("latencies.json", latencies), ("dynamodb-writes.json", writes), ("record.json", record)):
        with open(os.path.join(run_dir, name), "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, default=str)
    result = {
        "label": label,
        "instances": len(instances),
        "extra_vars": variables,
        "latency": scenario["latency"],
        "ec2_rate_limits": bool(scenario.get("ec2_rate_limits")),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "run_dir": os.path.relpath(run_dir, ROOT),
    }
    result.update(run)
    result.update(_calls_figures(calls, len(instances)))
    result.update(_latency_figures(latencies["latencies"] if isinstance(latencies, dict) else latencies, instances))
    result.update(_write_figures(writes, len(instances)))
    result.update(_outcome(after, record, instances, hosts))
    result["timeline"] = _timeline(run, calls.get("log", []), latencies["latencies"] if isinstance(latencies, dict) else latencies)
    result["throttle"] = {"enabled": throttle["enabled"], "throttled": throttle["throttled"], "throttled_by_bucket": throttle["throttled_by_bucket"],
                          "passed": throttle["passed"], "enabled_before_run": throttle_before["enabled"]}
    print("[bench] %s: rc=%s wall=%.1fs ok=%s/%d" % (label, result["rc"], result["wall_seconds"], result["succeeded_instances"], len(instances)),
          flush=True)
    with open(os.path.join(run_dir, "result.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2, sort_keys=True)
    return result


def _calls_figures(calls, count):
    log = calls.get("log", [])
    ec2 = {}
    for entry in log:
        if entry["service"] == "ec2":
            ec2[entry["action"]] = ec2.get(entry["action"], 0) + 1
    throttled = [e for e in log if e.get("throttled")]
    by_service = {}
    for entry in log:
        by_service[entry["service"]] = by_service.get(entry["service"], 0) + 1
    ec2_total = sum(ec2.values())
    return {
        "calls_by_service": by_service,
        "ec2_calls": dict(sorted(ec2.items())),
        "ec2_calls_total": ec2_total,
        "ec2_calls_per_instance": round(ec2_total / float(count), 3) if count else None,
        "ec2_calls_per_instance_by_action": {k: round(v / float(count), 3) for k, v in sorted(ec2.items())} if count else {},
        "ec2_errors": _error_counts(log, "ec2"),
        "throttled_calls": len(throttled),
        "throttled_calls_by_action": _count(e["action"] for e in throttled),
    }


def _count(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _error_counts(log, service):
    return _count("%s %s" % (e["action"], e["code"]) for e in log if e["service"] == service and e["code"] != "OK")


def _latency_figures(records, instances):
    per = per_instance_latencies(records, instances)
    totals = [v["total"] for v in per.values() if v["total"] is not None]
    return {
        "drawn": per,
        "drawn_complete": len(totals) == len(instances),
        "limit_seconds": round(max(totals), 3) if totals else None,
        "sum_seconds": round(sum(totals), 3) if totals else None,
        "max_stop_seconds": max((v["stop"] for v in per.values() if v["stop"] is not None), default=None),
        "max_start_seconds": max((v["start"] for v in per.values() if v["start"] is not None), default=None),
        "instances_with_repeated_draws": sorted(k for k, v in per.items() if v["stop_draws"] > 1 or v["start_draws"] > 1),
    }


def _timeline(run, log, records):
    """Where the wall time went, from the simulator's timestamps: seconds from the playbook's start to the first
    StopInstances, from there to the last instance reaching running (as drawn), and from then to the playbook's exit."""
    start, end = run["started_epoch"], run["ended_epoch"]
    stops = [e["time"] for e in log if e["service"] == "ec2" and e["action"] == "StopInstances" and e["code"] == "OK"]
    running = [r["time"] + r["seconds"] for r in records if r["action"] == "start" and r["seconds"] is not None]
    first_call = min((e["time"] for e in log), default=None)
    out = {"to_first_aws_call": round(first_call - start, 3) if first_call else None}
    if stops and running:
        out.update(to_first_stop=round(min(stops) - start, 3), first_stop_to_last_running=round(max(running) - min(stops), 3),
                   last_running_to_exit=round(end - max(running), 3))
    return out


def _write_figures(writes, count):
    mine = [w for w in writes["writes"] if w["table"] == TABLE]
    wcu = sum(w["wcu"] for w in mine)
    return {
        "dynamodb_writes": len(mine),
        "dynamodb_writes_by_action": _count(w["request"] for w in mine),
        "dynamodb_writes_per_instance": round(len(mine) / float(count), 3) if count else None,
        "dynamodb_wcu": wcu,
        "dynamodb_wcu_per_instance": round(wcu / float(count), 3) if count else None,
        "dynamodb_max_item_bytes": max((w["bytes"] for w in mine), default=0),
        "dynamodb_failed_writes": sum(1 for w in mine if not w["ok"]),
    }


def _outcome(after, record, instances, hosts):
    view = {i["instance_id"]: i for i in after["instances"]}
    moved = [i for i in instances if view[i]["state"] == "running" and view[i]["host_id"] not in (None, hosts["failed"])]
    migrations = (record or {}).get("InstanceMigrations") or {}
    statuses = _count(str(m.get("status")) for m in migrations.values())
    throttling_failures = sorted(i for i, m in migrations.items()
                                 if m.get("status") == "failed" and "RequestLimitExceeded" in str(m.get("errorMessage") or ""))
    retries = sum(int(m.get("retryCount") or 0) for m in migrations.values())
    return {
        "succeeded_instances": len(moved),
        "failed_instances": len(instances) - len(moved),
        "record_state": (record or {}).get("State"),
        "record_counts": {k: int((record or {}).get(k) or 0) for k in ("TotalInstances", "SuccessfulMigrations", "FailedMigrations", "SkippedMigrations")},
        "record_statuses": statuses,
        "record_retry_count": retries,
        "instances_failed_by_throttling": throttling_failures,
    }


# --------------------------------------------------------------------------- scenarios

def ratio(numerator, denominator):
    """numerator / denominator rounded, or None."""
    if numerator is None or not denominator:
        return None
    return round(numerator / float(denominator), 3)


def bench_b1(count):
    run = failover("B1-latency-%d" % count, world("m5", "m5.large", count, B1_LATENCY))
    return {"runs": [run], "figures": {"instances": count, "wall_seconds": run["wall_seconds"], "limit_seconds": run["limit_seconds"],
                                       "ratio": ratio(run["wall_seconds"], run["limit_seconds"]), "rc": run["rc"],
                                       "failed_instances": run["failed_instances"]}}


def bench_b2(count):
    serial = failover("B2-serial-%d" % count, world("m5", "m5.large", count, B1_LATENCY), {"failover_concurrency": 1})
    parallel = failover("B2-parallel-%d" % count, world("m5", "m5.large", count, B1_LATENCY))
    return {"runs": [serial, parallel], "figures": {
        "instances": count,
        "serial_wall_seconds": serial["wall_seconds"], "serial_sum_seconds": serial["sum_seconds"],
        "serial_vs_sum": ratio(serial["wall_seconds"], serial["sum_seconds"]),
        "parallel_wall_seconds": parallel["wall_seconds"], "parallel_limit_seconds": parallel["limit_seconds"],
        "parallel_vs_max": ratio(parallel["wall_seconds"], parallel["limit_seconds"]),
        "speed_up": ratio(serial["wall_seconds"], parallel["wall_seconds"]),
        "rc": [serial["rc"], parallel["rc"]], "failed_instances": serial["failed_instances"] + parallel["failed_instances"],
    }}


def bench_b3(counts):
    runs = []
    for count in counts:
        if count > 48:
            scenario = world("t3", "t3.nano", count, ZERO_LATENCY)
            label = "B3-overhead-%d-t3.nano" % count
        else:
            scenario = world("m5", "m5.large", count, ZERO_LATENCY)
            label = "B3-overhead-%d-m5.large" % count
        runs.append(failover(label, scenario))
    slopes = {}
    for first, second in zip(runs, runs[1:]):
        slopes["%d->%d" % (first["instances"], second["instances"])] = round(
            (second["wall_seconds"] - first["wall_seconds"]) / float(second["instances"] - first["instances"]), 4)
    slopes["%d->%d" % (runs[0]["instances"], runs[-1]["instances"])] = round(
        (runs[-1]["wall_seconds"] - runs[0]["wall_seconds"]) / float(runs[-1]["instances"] - runs[0]["instances"]), 4)
    figures = {"seconds_per_extra_instance": slopes, "per_count": {}}
    for run in runs:
        figures["per_count"][str(run["instances"])] = {
            "wall_seconds": run["wall_seconds"],
            "ec2_calls_per_instance": run["ec2_calls_per_instance"],
            "ec2_calls_per_instance_by_action": run["ec2_calls_per_instance_by_action"],
            "dynamodb_writes_per_instance": run["dynamodb_writes_per_instance"],
            "dynamodb_wcu_per_instance": run["dynamodb_wcu_per_instance"],
            "dynamodb_max_item_bytes": run["dynamodb_max_item_bytes"],
            "max_rss_mib": run["max_rss_mib"], "tree_rss_peak_mib": run["tree_rss_peak_mib"],
            "rc": run["rc"], "failed_instances": run["failed_instances"],
        }
    return {"runs": runs, "figures": figures}


def bench_b4(counts):
    runs = []
    for count in counts:
        if count > 48:
            scenario = world("t3", "t3.nano", count, B1_LATENCY, rate_limits=True)
            label = "B4-rate-limits-%d-t3.nano" % count
        else:
            scenario = world("m5", "m5.large", count, B1_LATENCY, rate_limits=True)
            label = "B4-rate-limits-%d-m5.large" % count
        runs.append(failover(label, scenario))
    figures = {}
    for run in runs:
        figures[str(run["instances"])] = {
            "wall_seconds": run["wall_seconds"], "limit_seconds": run["limit_seconds"],
            "ratio": ratio(run["wall_seconds"], run["limit_seconds"]),
            "throttled_calls": run["throttled_calls"], "throttled_calls_by_action": run["throttled_calls_by_action"],
            "failed_instances": run["failed_instances"], "instances_failed_by_throttling": len(run["instances_failed_by_throttling"]),
            "record_state": run["record_state"], "record_counts": run["record_counts"], "record_retry_count": run["record_retry_count"],
            "rc": run["rc"],
        }
    return {"runs": runs, "figures": figures}


def verdicts(results, full):
    """Each target: value, limit, met (None when its scenario did not run)."""
    out = []

    def add(name, value, limit, met, note=""):
        out.append({"target": name, "value": value, "limit": limit, "met": met, "note": note})

    if "B1" in results:
        fig = results["B1"]["figures"]
        add("B1 wall / largest stop+start (%d instances)" % fig["instances"], fig["ratio"], "<= 1.2",
            fig["ratio"] is not None and fig["ratio"] <= TARGETS["B1.ratio"] and fig["rc"] == 0)
    if "B2" in results:
        fig = results["B2"]["figures"]
        add("B2 serial wall / sum of stop+start", fig["serial_vs_sum"], "<= 1.10 (within 10%)",
            fig["serial_vs_sum"] is not None and abs(fig["serial_vs_sum"] - 1.0) <= 0.10)
        add("B2 parallel wall / largest stop+start", fig["parallel_vs_max"], "<= 1.20 (within 20%)",
            fig["parallel_vs_max"] is not None and abs(fig["parallel_vs_max"] - 1.0) <= 0.20)
    if "B3" in results:
        fig = results["B3"]["figures"]
        for count, per in fig["per_count"].items():
            add("B3 EC2 calls per instance (%s instances)" % count, per["ec2_calls_per_instance"], "<= 5",
                per["ec2_calls_per_instance"] <= TARGETS["B3.ec2_calls_per_instance"] and per["rc"] == 0)
            add("B3 DynamoDB writes per instance (%s instances)" % count, per["dynamodb_writes_per_instance"], "<= 4",
                per["dynamodb_writes_per_instance"] <= TARGETS["B3.dynamodb_writes_per_instance"])
        for span, slope in fig["seconds_per_extra_instance"].items():
            add("B3 seconds per extra instance (%s)" % span, slope, "<= 0.1", slope <= TARGETS["B3.seconds_per_extra_instance"])
    if "B4" in results:
        fig = results["B4"]["figures"]
        counts = sorted(int(c) for c in fig)
        first, last = str(counts[0]), str(counts[-1])
        add("B4 wall / largest stop+start, rate limits on (%s instances)" % first, fig[first]["ratio"], "<= 1.5",
            fig[first]["ratio"] is not None and fig[first]["ratio"] <= TARGETS["B4.ratio_48"] and fig[first]["rc"] == 0)
        add("B4 failed instances, rate limits on (%s instances)" % last, fig[last]["failed_instances"], "0",
            fig[last]["failed_instances"] == 0 and fig[last]["rc"] == 0 and fig[last]["instances_failed_by_throttling"] == 0)
    if not full:
        for verdict in out:
            verdict["note"] = "quick run: fewer instances than the targets are stated for"
    return out


# --------------------------------------------------------------------------- output

def _fmt(value):
    if isinstance(value, float):
        return "%.3f" % value if abs(value) < 10 else "%.1f" % value
    if isinstance(value, dict):
        return ", ".join("%s %s" % (k, _fmt(v)) for k, v in value.items())
    return str(value)


def print_tables(results, verdict_list, info):
    print("\nMachine: %s, %s CPUs, %s GiB; %s; load average at start %s" % (
        info["machine"].get("cpu", "?"), info["machine"].get("nproc"), info["machine"].get("memory_gib"), info["date"], info["load_average_start"]))
    rows = [("run", "inst", "rc", "ok", "wall s", "limit s", "sum s", "EC2/inst", "DDB w/inst", "WCU/inst", "throttled", "maxrss MiB", "tree MiB")]
    for scenario in sorted(results):
        for run in results[scenario]["runs"]:
            rows.append((run["label"], run["instances"], run["rc"], "%d/%d" % (run["succeeded_instances"], run["instances"]),
                         "%.1f" % run["wall_seconds"], _fmt(run["limit_seconds"]), _fmt(run["sum_seconds"]),
                         _fmt(run["ec2_calls_per_instance"]), _fmt(run["dynamodb_writes_per_instance"]), _fmt(run["dynamodb_wcu_per_instance"]),
                         run["throttled_calls"], _fmt(run["max_rss_mib"]), _fmt(run["tree_rss_peak_mib"])))
    _print_rows(rows)
    if "B3" in results:
        print("\nB3 EC2 calls per instance by action:")
        for run in results["B3"]["runs"]:
            print("  %-28s %s" % (run["label"], _fmt(run["ec2_calls_per_instance_by_action"])))
    if "B4" in results:
        print("\nB4 throttled calls by action:")
        for run in results["B4"]["runs"]:
            throttled = _fmt(run["throttled_calls_by_action"]) or "none"
            print("  %-28s %s (record: %s, retries %s)" % (run["label"], throttled, run["record_state"], run["record_retry_count"]))
    print()
    rows = [("target", "value", "limit", "met")]
    for verdict in verdict_list:
        rows.append((verdict["target"], _fmt(verdict["value"]), verdict["limit"], {True: "yes", False: "NO"}.get(verdict["met"], "-")))
    _print_rows(rows)
    if any(v["note"] for v in verdict_list):
        print("\n(%s)" % verdict_list[0]["note"])


def _print_rows(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def markdown(document):
    """The figures of a results.json as the Markdown tables of docs/performance.md."""
    info, lines = document["info"], []
    machine_info = info["machine"]
    lines.append("Run of %s (%s), commit %s%s, %s." % (
        info["date"], "all scenarios" if not info["quick"] else "--quick", machine_info.get("commit", "?"),
        " with local changes" if machine_info.get("worktree_modified") else "", machine_info.get("ansible_core", "")))
    lines.append("Machine: %s CPUs (%s), %s GiB memory, %s. Load average (1, 5, 15 min) at the start %s, at the end %s; "
                 "the benchmark took %s s." % (machine_info.get("nproc"), machine_info.get("cpu", "?"), machine_info.get("memory_gib"),
                                               machine_info.get("platform"), info["load_average_start"], info.get("load_average_end"),
                                               info.get("bench_seconds")))
    lines.append("")
    lines.append("| run | instances | rc | moved | wall s | largest stop+start s | sum s | to first stop s | first stop to last running s "
                 "| last running to exit s | EC2 calls / inst | DynamoDB writes / inst | WCU / inst | largest item B | throttled "
                 "| max RSS MiB | tree RSS MiB | load before |")
    lines.append("|" + "---|" * 18)
    for scenario in sorted(document["runs"]):
        for run in document["runs"][scenario]:
            timeline = run.get("timeline", {})
            lines.append("| %s | %d | %s | %d/%d | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                run["label"], run["instances"], run["rc"], run["succeeded_instances"], run["instances"], run["wall_seconds"],
                _fmt(run["limit_seconds"]), _fmt(run["sum_seconds"]), _fmt(timeline.get("to_first_stop")),
                _fmt(timeline.get("first_stop_to_last_running")), _fmt(timeline.get("last_running_to_exit")),
                _fmt(run["ec2_calls_per_instance"]), _fmt(run["dynamodb_writes_per_instance"]), _fmt(run["dynamodb_wcu_per_instance"]),
                run["dynamodb_max_item_bytes"], run["throttled_calls"], _fmt(run["max_rss_mib"]), _fmt(run["tree_rss_peak_mib"]),
                run["load_average_before"][0]))
    lines.append("")
    lines.append("| target | value | limit | met |")
    lines.append("|---|---|---|---|")
    for verdict in document["targets"]:
        met = {True: "yes", False: "**no**"}.get(verdict["met"], "-")
        lines.append("| %s | %s | %s | %s |" % (verdict["target"], _fmt(verdict["value"]), verdict["limit"], met))
    extra = []
    for scenario in ("B3", "B4"):
        for run in document["runs"].get(scenario, []):
            by_action = run["ec2_calls_per_instance_by_action"] if scenario == "B3" else run["throttled_calls_by_action"]
            extra.append("| %s | %s |" % (run["label"], _fmt(by_action) or "none"))
    if extra:
        lines.append("")
        lines.append("| run | B3: EC2 calls per instance by action; B4: throttled calls by action |")
        lines.append("|---|---|")
        lines.extend(extra)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances per scenario (a smoke test of the harness)")
    parser.add_argument("--scenario", action="append", choices=("B1", "B2", "B3", "B4"), help="run only these (repeatable)")
    parser.add_argument("--output", default=os.path.join(OUT, "results.json"), help="where the JSON of the figures goes")
    parser.add_argument("--markdown", metavar="RESULTS_JSON", help="print the tables of docs/performance.md from a results.json; run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        with open(args.markdown, encoding="utf-8") as handle:
            print(markdown(json.load(handle)))
        return 0
    for path in (PLAYBOOK, PYTHON):
        if not os.path.exists(path):
            sys.exit("%s is missing: run make setup (or make bench) first" % os.path.relpath(path, ROOT))
    os.makedirs(OUT, exist_ok=True)
    chosen = args.scenario or ["B1", "B2", "B3", "B4"]
    count = sizes(args.quick)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
            "load_average_start": load_average(), "quick": args.quick, "scenarios": chosen, "seed": SEED}
    runners = {"B1": lambda: bench_b1(count["B1"]), "B2": lambda: bench_b2(count["B2"]), "B3": lambda: bench_b3(count["B3"]),
               "B4": lambda: bench_b4(count["B4"])}
    started = time.monotonic()
    results = {}
    for name in chosen:
        results[name] = runners[name]()
    info["load_average_end"] = load_average()
    info["bench_seconds"] = round(time.monotonic() - started, 1)
    verdict_list = verdicts(results, not args.quick)
    document = {"info": info, "targets": verdict_list, "figures": {k: v["figures"] for k, v in results.items()},
                "runs": {k: v["runs"] for k, v in results.items()}}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
    print_tables(results, verdict_list, info)
    print("\nFigures: %s (per run: .work/bench/runs/<run>/)" % os.path.relpath(os.path.abspath(args.output), ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
