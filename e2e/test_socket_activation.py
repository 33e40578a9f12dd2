"""Socket activation (deploy/systemd/hotspot-pay.socket) without systemd: this test plays
systemd's part. It binds the unix socket nginx connects to, keeps it open for the whole test, and
starts hotspot-pay with that socket as file descriptor 3, LISTEN_FDS=1 and LISTEN_PID set to the
server's own pid (bash sets LISTEN_PID=$$ and then execs the server, which keeps that pid).

It checks that the server answers on the socket it was given and creates none of its own; that
at SIGTERM it neither removes nor shuts down that socket, so a request arriving while no server
runs waits in the socket's queue and is answered by the next server; and that LISTEN_* variables
meant for another process are ignored.
"""

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from hotspot_stack import IS_ROOT, Stack, wait_for


@pytest.fixture(scope="module")
def held():
    """A database and nginx, and the socket the test holds as systemd would."""
    stack = Stack()
    given = None
    try:
        stack.postgres.start()
        stack.write_env_file()
        stack.ctl("migrate")
        given = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        given.bind(stack.socket)
        os.chmod(stack.socket, 0o660)
        if IS_ROOT:  # as SocketGroup=www-data does
            shutil.chown(stack.socket, group="www-data")
        given.listen(128)
        stack.start_nginx()
        stack.given = given
        yield stack
    finally:
        stack.stop()
        if given:
            given.close()
        shutil.rmtree(stack.directory, ignore_errors=True)


@pytest.fixture
def activated(held):
    """The module's stack; the servers a test starts are killed after it if still running."""
    held.servers = []
    held.unused = os.path.join(held.directory, "run", "own.sock")
    yield held
    for process in held.servers:
        if process.poll() is None:
            process.kill()
            process.wait()


def start_server(stack, listen_pid="$$"):
    """hotspot-pay with the held socket as fd 3 and LISTEN_PID=`listen_pid` ($$: its own pid)."""
    held = fcntl.fcntl(stack.given.fileno(), fcntl.F_DUPFD, 10)  # never 3 itself
    script = f'export LISTEN_PID={listen_pid} LISTEN_FDS=1; exec "$0" "$@" 3<&{held} {held}<&-'
    env = dict(os.environ, HOTSPOT_LISTEN=stack.unused)
    seen = os.path.getsize(stack.server_log) if os.path.exists(stack.server_log) else 0
    log = open(stack.server_log, "a")
    try:
        process = subprocess.Popen(["/bin/bash", "-c", script, os.path.join(stack.build_dir, "hotspot-pay"),
                                    "--env-file", stack.env_file], pass_fds=(held,), env=env, stdout=log, stderr=log)
    finally:
        os.close(held)
        log.close()
    stack.servers.append(process)
    wait_for(lambda: '"listening"' in open(stack.server_log).read()[seen:] or process.poll() is not None, 30, "the server")
    assert process.poll() is None, open(stack.server_log).read()[-2000:]
    return process


def health(stack, timeout=20):
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/health", timeout=timeout) as reply:
        return reply.status, json.loads(reply.read())


def stop(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0


def test_serves_on_the_socket_it_is_given_and_leaves_it_to_the_next_server(activated):
    first = start_server(activated)
    assert health(activated) == (200, {"status": "ok", "database": "ok"})
    assert not os.path.exists(activated.unused), "it created a socket of its own"
    log = [json.loads(line) for line in open(activated.server_log) if line.startswith("{")]
    assert any(line["msg"] == "listening" and line["listen"] == "fd 3 from systemd" for line in log)

    stop(first)
    assert os.path.exists(activated.socket), "it removed the socket it was given"

    # With no server running, a request waits in the socket's queue instead of being refused…
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(health(activated)))
    waiting.start()
    time.sleep(1)
    assert not answers and waiting.is_alive()
    # …and the next server answers it.
    second = start_server(activated)
    waiting.join(20)
    assert answers == [(200, {"status": "ok", "database": "ok"})]
    stop(second)
    assert os.path.exists(activated.socket)


def test_a_socket_meant_for_another_process_is_ignored(activated):
    process = start_server(activated, listen_pid="1")
    assert os.path.exists(activated.unused), "it should have listened on HOTSPOT_LISTEN"
    stop(process)
    assert not os.path.exists(activated.unused), "it should remove the socket it created"
