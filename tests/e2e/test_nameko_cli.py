"""The Nameko CLI built from the lockfile: `nameko run` with config.yaml, `nameko shell`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from devstack.probes import has_consumer
from devstack.waiting import answers_ok, free_port, wait_for
from harness.cleanup import Cleanup

NAMEKO = "nameko.pex"


def test_nameko_run_serves_the_api_from_the_yaml_config(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PEX_ROOT": str(tmp_path / "pex_root"),
        "AMQP_URI": amqp_uri,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "LOG_STORE_PATH": str(tmp_path / "log.sqlite3"),
        "MAX_NUMBERS": "3",
    }
    output = open(tmp_path / "nameko.out", "wb")
    cleanup(output.close)
    process = subprocess.Popen(
        [sys.executable, NAMEKO, "run", "--config", "config.yaml",
         "calc.service", "log.service", "gateway.service"],
        env=env, stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip
    cleanup(lambda: stop(process))
    base_url = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers_ok(base_url + "/ready"), 60, "the services to be ready")

    assert requests.get(base_url + "/sum?numbers=1,2", timeout=10).json()["result"] == 3
    too_many = requests.get(base_url + "/sum?numbers=1,2,3,4", timeout=10)
    assert too_many.status_code == 400, "MAX_NUMBERS from the environment applies"

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    lines = (tmp_path / "nameko.out").read_text().splitlines()
    assert any('"logger": "nameko.runners"' in line for line in lines), lines[:5]


def test_nameko_shell_calls_a_running_service(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    env = {"PATH": os.environ["PATH"], "PEX_ROOT": str(tmp_path / "pex_root"),
           "AMQP_URI": amqp_uri, "LOG_STORE_PATH": str(tmp_path / "log.sqlite3")}  # fmt: skip
    service = subprocess.Popen(
        [sys.executable, NAMEKO, "run", "--config", "config.yaml", "calc.service"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    cleanup(lambda: stop(service))
    wait_for(lambda: has_consumer(amqp_uri, "rpc-calc"), 60, "calc to consume")
    shell = subprocess.run(
        [sys.executable, NAMEKO, "shell", "--broker", amqp_uri],
        input="print('SUM', n.rpc.calc.sum([1, 2, 3]))\n",
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "SUM 6" in shell.stdout, shell.stdout + shell.stderr


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
