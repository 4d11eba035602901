"""A WSGI app on a werkzeug threaded server in a background thread: the simulator's and fleet mode's servers."""

import threading

from werkzeug.serving import make_server


class ThreadedServer:
    """Serves ``self.app`` on ``self.host``:``self.port``; subclasses set them and may choose the request handler."""

    thread_name = "dhsim"
    host = "127.0.0.1"
    port = 0
    app = None
    _server = None
    _thread = None

    def request_handler(self):
        """The werkzeug request handler class."""
        raise NotImplementedError

    @property
    def endpoint(self):
        """http://HOST:PORT of the running server."""
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self):
        """Start serving in a daemon thread; returns the endpoint."""
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=self.request_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self):
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
