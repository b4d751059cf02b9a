"""A real Prometheus server (Debian's ``prometheus`` package) for a test, and its HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from devstack.waiting import answers_ok, free_port, wait_for

NO_PROMETHEUS = "no prometheus server: apt-get install prometheus"


def prometheus_installed() -> bool:
    return shutil.which("prometheus") is not None


class PrometheusServer:
    """Prometheus scraping `targets` (job name: ["host:port", ...]) every 250 ms.

    `metrics_path` per job defaults to ``/metrics``. Stop it with `stop`.
    """

    def __init__(
        self, workdir: Path, targets: dict[str, list[str]], rule_files: tuple[Path, ...] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": "250ms",
                "scrape_timeout": "200ms",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(path.resolve()) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addresses}]}
                for job, addresses in targets.items()
            ],
        }
        (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self._output = open(workdir / "prometheus.out", "wb")
        self._process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self._process.poll() is not None or answers_ok(self.url + "/-/ready"),
                 30, "Prometheus to be ready")  # fmt: skip
        if self._process.poll() is not None:
            raise RuntimeError((workdir / "prometheus.out").read_text()[-2000:])

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=5) as answer:
            body = json.loads(answer.read())
        assert body["status"] == "success", body
        return body["data"]

    def value(self, expression: str) -> float | None:
        """The single value of an instant query, or None if it has no result yet."""
        result = self.api("query", query=expression)["result"]
        assert len(result) <= 1, f"{expression} gave several series: {result}"
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._output.close()
