"""Servers on the loopback address for the fetch tests: HTTP serving files (and misbehaving
as asked), a minimal FTP server, and an FTP port that accepts and never answers. Nothing
reaches beyond this machine."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1; a path under ``cut`` sends half
    its bytes after promising all of them, then hangs up; a path in ``custom`` is answered
    by that function (given the request handler)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.custom: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.requests: list[str] = []
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                owner.requests.append(self.path)
                if self.path in owner.custom:
                    try:
                        owner.custom[self.path](self)
                    except OSError:  # the client hung up: what the tests want it to do
                        pass
                    return
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in owner.cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class FtpServer:
    """A minimal FTP server (anonymous login, binary type, passive mode, SIZE and RETR) on
    127.0.0.1 serving ``files`` (path -> bytes); ``silent``: it accepts connections and
    never says a word."""

    def __init__(self, files: dict[str, bytes] | None = None, silent: bool = False) -> None:
        self.files = files or {}
        self.requests: list[str] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                if silent:
                    self.request.recv(1)  # until the client gives up and hangs up
                    return
                self.say("220 ready")
                passive: socket.socket | None = None
                for raw in self.rfile:
                    command, _, argument = raw.decode().strip().partition(" ")
                    command = command.upper()
                    if command == "USER":
                        self.say("331 send a password")
                    elif command == "PASS":
                        self.say("230 in")
                    elif command == "TYPE":
                        self.say("200 binary")
                    elif command == "SIZE":
                        body = owner.files.get(argument)
                        self.say(f"213 {len(body)}" if body is not None else "550 no file")
                    elif command == "PASV":
                        passive = socket.create_server(("127.0.0.1", 0))
                        port = passive.getsockname()[1]
                        self.say(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
                    elif command == "RETR":
                        owner.requests.append(argument)
                        body = owner.files.get(argument)
                        if body is None or passive is None:
                            self.say("550 no file")
                            continue
                        self.say("150 sending")
                        data, _ = passive.accept()
                        with data:
                            data.sendall(body)
                        passive.close()
                        passive = None
                        self.say("226 sent")
                    elif command == "QUIT":
                        self.say("221 bye")
                        return
                    else:
                        self.say("502 not here")

            def say(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"ftp://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A port on the loopback address nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
