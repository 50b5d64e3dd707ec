"""A private nginx (Debian's) serving the page's site file on a machine.

The site file is what goes into ``/etc/nginx/sites-available``: it lives in nginx's
``http`` context. Debian's ``/etc/nginx/nginx.conf`` wraps it with ``include``; ours
does the same with only what a private instance needs (its own pid file, logs and
temporary directories under ``directory``). Checked with ``nginx -t`` as the page
says, then started in the foreground
(``nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'``), ready when its ports accept,
stopped by PID with SIGQUIT (nginx's graceful stop).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import trustme

from telephonist.testing.processes import Process, ProcessExited
from tests.servers import require_service

from .page import Machine
from .procs import Procs, stop_within

__all__ = ["start_nginx", "stop_nginx", "trust_and_certificate"]

_CONF = """\
# As root the master starts workers as "nobody"; ours read the test's directories.
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {logs}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {logs}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include {site};
}}
"""


def nginx_binary() -> str:
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if binary is None:
        require_service("nginx (scripts/peers/deploy.sh installs it)")
        raise AssertionError("unreachable")
    return binary


def start_nginx(
    procs: Procs, machine: Machine, site: Path, ports: list[tuple[str, int]]
) -> Process:
    directory = machine.root / "nginx"
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    logs = procs.logs / f"nginx-{machine.name}"  # kept after the test, with the others
    logs.mkdir(parents=True, exist_ok=True)
    conf.write_text(_CONF.format(dir=directory, logs=logs, site=site))
    base = [nginx_binary(), "-p", str(directory), "-c", str(conf)]
    # The page's "nginx -t" first: the configuration as nginx reads it.
    checked = subprocess.run(
        machine.run_on([*base, "-t"]), capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr, checked.stderr
    argv = [*base, "-g", "daemon off;"]
    proc = procs.start(f"nginx-{machine.name}", machine.run_on(argv), cwd=directory, env={})
    try:
        for host, port in ports:
            proc.wait_for_port(port, host=host)
    except (ProcessExited, TimeoutError) as exc:
        log = (logs / "error.log").read_text() if (logs / "error.log").exists() else ""
        raise AssertionError(f"nginx: {exc}\n{log}") from None
    return proc


def stop_nginx(proc: Process) -> None:
    stop_within(proc, 10, signal.SIGQUIT)  # nginx's graceful stop


def trust_and_certificate(machine: Machine, *, names: list[str]) -> trustme.CA:
    """A throwaway CA (returned: ``ca.configure_trust(ctx)`` for clients) and a
    certificate for ``names`` installed where the site file expects them."""
    ca = trustme.CA()
    cert = ca.issue_cert(*names)
    chain = machine.path("/etc/ssl/chat.example.org/fullchain.pem")
    chain.parent.mkdir(parents=True, exist_ok=True)
    cert.cert_chain_pems[0].write_to_path(str(chain))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(chain), append=True)
    cert.private_key_pem.write_to_path(str(machine.path("/etc/ssl/chat.example.org/privkey.pem")))
    return ca
