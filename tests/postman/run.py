"""Run the committed Postman collection with newman against a live server (`make postman`; CI runs it).

Starts the app (development settings, a fresh SQLite database and instance folder in a temporary
directory, the in-process worker) on a free port, with the demo data (its brands) and a partner with
funds and an API key made with the CLI, runs the collection once signed with v1 and once with v2 (every request must answer its documented
status), then stops the server. Exits with newman's status.

    .venv/bin/python tests/postman/run.py --newman .venv/newman-6.2.2/node_modules/.bin/newman
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "postman" / "gift-store.postman_collection.json"
ENVIRONMENT = ROOT / "postman" / "gift-store.postman_environment.json"
FLASK = Path(sys.executable).with_name("flask")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    done = subprocess.run([str(FLASK), "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def credentials_in(output: str) -> dict:
    """create-partner prints one JSON object (among other lines)."""
    start, end = output.index("{"), output.rindex("}") + 1
    return json.loads(output[start:end])


def wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped before answering (exit {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url} within {seconds} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--newman", default=os.environ.get("NEWMAN", "newman"), help="the newman executable")
    parser.add_argument("--versions", default="1,2", help="signature versions to run the collection with")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="giftstore-postman-") as scratch:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "APP_ENV": "development",
            "INSTANCE_PATH": scratch,
            "DATABASE_URL": f"sqlite:///{scratch}/postman.db",
            "BASE_URL": base_url,
            "RUN_WORKER_IN_PROCESS": "true",
            "PROVIDER_LATENCY_MS": "50",
            "REDIS_URL": "",
            "MAIL_SERVER": "",
            "FLASK_APP": "app",
        }
        flask(env, "init-db")
        flask(env, "seed-demo")  # the demo brands (and the demo store, unused here)
        partner = credentials_in(
            flask(env, "create-partner", "--slug", "postman", "--name", "Postman", "--currency", "USD", "--funds", "100000")
        )
        log_path = Path(scratch) / "server.log"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                [str(FLASK), "--app", "app", "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        status = 1
        try:
            wait_for(f"{base_url}/api/partner/v1/openapi.json", server)
            for version in arguments.versions.split(","):
                print(f"--- newman: the collection signed with v{version} against {base_url}", flush=True)
                status = subprocess.run(
                    [
                        arguments.newman,
                        "run",
                        str(COLLECTION),
                        "--environment",
                        str(ENVIRONMENT),
                        *("--env-var", f"baseUrl={base_url}"),
                        *("--env-var", f"apiKey={partner['apiKey']}"),
                        *("--env-var", f"clientId={partner['clientId']}"),
                        *("--env-var", f"hmacSecret={partner['hmacSecret']}"),
                        *("--env-var", f"signatureVersion={version}"),
                        *("--env-var", f"webhookUrl={base_url}/postman-webhook-sink"),
                        "--color",
                        "off",
                        "--timeout-request",
                        "30000",
                    ],
                    cwd=ROOT,
                    timeout=300,
                ).returncode
                if status != 0:
                    break
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            if status != 0:
                print("--- the server's log:\n" + log_path.read_text(errors="replace")[-20000:], flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
