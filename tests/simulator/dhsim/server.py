"""The simulator WSGI application and a threaded server around it."""

import contextlib
import html
import io
import re
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from . import capacity_units, control, ec2_hosts, preflight_sim, services, ssm_commands
from .faults import CALLS, FAULTS, error_code_from_body, identify, render_error
from .serving import ThreadedServer
from .state import SIM
from .throttle import THROTTLE, THROTTLE_CODE, THROTTLE_MESSAGE, THROTTLE_STATUS

_INSTALLED = []

# moto answers authentication/authorisation failures in XML even for JSON-protocol services.
JSON_AUTH_ERRORS = {
    "dynamodb": {"AccessDenied": ("AccessDeniedException", 400), "InvalidClientTokenId": ("UnrecognizedClientException", 400),
                 "SignatureDoesNotMatch": ("InvalidSignatureException", 400)},
}


def install():
    """Install every patch into moto (idempotent)."""
    if not _INSTALLED:
        ec2_hosts.install()
        services.install()
        capacity_units.install()
        preflight_sim.install()
        ssm_commands.install()
        _INSTALLED.append(True)


class SimulatorApp:
    """WSGI app: control API, fault/latency injection and call accounting in front of moto's server."""

    def __init__(self):
        install()
        self.moto_app = DomainDispatcherApplication(create_backend_app)
        # DynamoDB applies each request to an item atomically; moto's backend does not lock, and a read that
        # iterates an item while a write changes it fails with a 500 no real table gives.
        self._dynamodb_lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(control.PREFIX):
            return control.handle(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        started = time.time()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        info = identify(environ, body)
        ec2_hosts.tick()
        refused = THROTTLE.check(info, body, environ.get("QUERY_STRING", ""))
        if refused:
            status, headers, data = render_error(info, THROTTLE_CODE, THROTTLE_MESSAGE, THROTTLE_STATUS)
            CALLS.record(info, status, THROTTLE_CODE, duration=time.time() - started, extra={"throttled": refused})
            start_response("%d %s" % (status, "Throttled"), headers)
            return [data]
        rule, delay = FAULTS.decide(info)
        if delay:
            time.sleep(delay * SIM.time_scale)
        if rule is not None:
            status, headers, data = render_error(info, rule.code, rule.message, rule.status)
            CALLS.record(info, status, rule.code, injected=True, duration=time.time() - started)
            start_response("%d %s" % (status, "Injected"), headers)
            return [data]
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            captured["exc_info"] = exc_info
            return lambda chunk: captured.setdefault("written", []).append(chunk)

        capacity_units.begin_request(info.action)
        try:
            with self._dynamodb_lock if info.service == "dynamodb" else contextlib.nullcontext():
                result = self.moto_app(environ, capture)
                try:
                    chunks = list(captured.get("written", [])) + list(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
        finally:
            writes, wcu = capacity_units.end_request()
        data = b"".join(chunks)
        status = int(captured["status"].split()[0])
        code = error_code_from_body(data) if status >= 400 else None
        if status >= 400 and info.protocol == "json" and data.lstrip().startswith(b"<"):
            code, message = _xml_error(data)
            code, new_status = JSON_AUTH_ERRORS.get(info.service, {}).get(code, (code, status))
            status, headers, data = render_error(info, code, message, new_status)
            captured["status"] = "%d %s" % (status, "Error")
            captured["headers"] = headers
        CALLS.record(info, status, code, duration=time.time() - started, extra={"writes": writes, "wcu": wcu} if writes else None)
        start_response(captured["status"], captured["headers"])
        return [data]


def _xml_error(data):
    text = data.decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return (code.group(1) if code else "InternalFailure"), html.unescape(message.group(1) if message else "")


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without one log line per request."""

    def log_request(self, code="-", size="-"):
        """Do not log successful requests."""


class SimulatorServer(ThreadedServer):
    """A simulator on a werkzeug threaded server in a background thread."""

    thread_name = "dhsim-server"

    def __init__(self, host="127.0.0.1", port=0, time_scale=1.0, region="us-east-1", seed=None, verbose=False):
        self.host = host
        self.verbose = verbose
        self.port = port
        SIM.base_time_scale = float(time_scale)
        SIM.region = region
        SIM.base_seed = seed
        SIM.reset()
        self.app = SimulatorApp()

    def request_handler(self):
        return MotoRequestHandler if self.verbose else QuietRequestHandler

    def reset(self):
        """Reset moto and the simulator to a clean state."""
        control.reset_all()
