"""The whole system on one machine: moto (DynamoDB, S3, SQS), the WeChat and SMS emulators,
the API, the workers AWS would run (notice-queue consumer, schedules) and the
mini-program's browser build.

`python -m devstack run` (what `make run` calls) starts everything in the
foreground, loads the demo data, prints the URLs and demo login codes, and
stops it all on Ctrl-C. Ports come from SSP_API_PORT, SSP_MOTO_PORT,
SSP_WECHAT_PORT, SSP_SMS_PORT, SSP_WECOM_PORT and SSP_H5_PORT (0 picks a free one);
SSP_SCHEDULE_SECONDS sets how often the scheduled handlers run (default 10 s).
SSP_H5_API_BASE points the browser build at another API address (a proxy, say).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from devstack.h5 import ensure_built, scan_url, start_h5
from devstack.services import ROOT, free_port, start_moto, wait_for_http

READY_LINE = "suishoupai local stack ready"
DEFAULT_PORTS = {
    "SSP_API_PORT": 8000,
    "SSP_MOTO_PORT": 5010,
    "SSP_WECHAT_PORT": 5020,
    "SSP_SMS_PORT": 5030,
    "SSP_WECOM_PORT": 5040,
    "SSP_H5_PORT": 5050,
}
SMS_SECRET_ID = "local-sms-id"
SMS_SECRET_KEY = "local-sms-key"
SMS_APP_ID = "1400000000"


def _port(name: str) -> int:
    value = int(os.environ.get(name, DEFAULT_PORTS[name]))
    return value or free_port()


def stack_environment(moto_url: str, wechat_url: str, sms_endpoint: str = "") -> dict[str, str]:
    """Environment that points the app at the local servers."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "ap-east-1",
        "AWS_REGION": "ap-east-1",
        "STAGE": "local",
        "TABLE_PREFIX": os.environ.get("TABLE_PREFIX", "ssp-local-"),
        "UPLOAD_BUCKET": os.environ.get("UPLOAD_BUCKET", "ssp-local-uploads"),
        "DYNAMODB_ENDPOINT": moto_url,
        "S3_ENDPOINT": moto_url,
        "SQS_ENDPOINT": moto_url,
        "WECHAT_API_BASE": wechat_url,
        "WECHAT_APPID": "wx-local-appid",
        "WECHAT_SECRET": "local-secret",
        "SESSION_SECRET": os.environ.get("SESSION_SECRET", "local-dev-session-secret"),
        "SMS_ENDPOINT": sms_endpoint,
        "SMS_PROTOCOL": "http",
        "SMS_SECRET_ID": SMS_SECRET_ID,
        "SMS_SECRET_KEY": SMS_SECRET_KEY,
        "SMS_APP_ID": SMS_APP_ID,
    }


def create_notice_queue(services) -> str:
    """Create the notice queue (local servers only; AWS gets it from the template)."""
    return services.sqs.create_queue(
        QueueName=f"{services.settings.table_prefix}notices",
        Attributes={"VisibilityTimeout": "60"},
    )["QueueUrl"]


def _declare_sms_templates(sms) -> None:
    """Give the SMS emulator the template texts, so its messages show what a person reads."""
    if os.environ.get("SMS_TEMPLATES"):
        return  # configured ids may lack texts; the emulator then accepts any template
    from chalicelib.notify.templates import sms_template_texts

    sms.state.set_templates(sms_template_texts())


@dataclass
class Stack:
    """Handles of everything the stack started, to stop them in reverse order."""

    api_url: str = ""
    moto: object = None
    wechat: object = None
    sms: object = None
    wecom: object = None
    workers: object = None
    h5: object = None
    api: subprocess.Popen | None = None
    logins: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.api and self.api.poll() is None:
            self.api.terminate()
            try:
                self.api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.api.kill()
        if self.h5:
            self.h5.stop()
        if self.workers:
            self.workers.stop()
        if self.sms:
            self.sms.stop()
        if self.wecom:
            self.wecom.stop()
        if self.wechat:
            self.wechat.stop()
        if self.moto:
            self.moto.stop()


def start_stack() -> Stack:
    """Start moto, the emulators, `chalice local` and the workers; create tables, load demo data."""
    import logging

    from devstack.sms_emulator import start_sms_emulator
    from devstack.wechat_emulator import DEFAULT_OAUTH_APPID, start_wechat_emulator
    from devstack.wecom_emulator import start_wecom_emulator

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    stack = Stack()
    try:
        stack.moto = start_moto(_port("SSP_MOTO_PORT"))
        env = stack_environment(stack.moto.url, "")
        stack.wechat = start_wechat_emulator(
            port=_port("SSP_WECHAT_PORT"), appid=env["WECHAT_APPID"], secret=env["WECHAT_SECRET"]
        )
        env["WECHAT_API_BASE"] = stack.wechat.url
        stack.sms = start_sms_emulator(
            port=_port("SSP_SMS_PORT"),
            secret_id=SMS_SECRET_ID,
            secret_key=SMS_SECRET_KEY,
            sdk_app_id=SMS_APP_ID,
        )
        env["SMS_ENDPOINT"] = stack.sms.endpoint
        stack.wecom = start_wecom_emulator(port=_port("SSP_WECOM_PORT"))
        env["WECOM_WEBHOOK_BASE"] = stack.wecom.send_url
        dist = ensure_built()  # before the servers it would compete with for the CPU
        h5_port = _port("SSP_H5_PORT")
        env["H5_BASE_URL"] = f"http://127.0.0.1:{h5_port}/"
        os.environ.update(env)
        _declare_sms_templates(stack.sms)

        from chalicelib.bootstrap import services
        from chalicelib.store.tables import create_tables
        from devstack.seed import load_demo

        svc = services()
        create_tables(svc.settings)
        svc.uploads.create_bucket()
        queue_url = create_notice_queue(svc)
        os.environ["NOTIFY_QUEUE_URL"] = queue_url
        stack.logins = load_demo(svc)["logins"]

        api_port = _port("SSP_API_PORT")
        stack.api_url = f"http://127.0.0.1:{api_port}"
        stack.api = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "chalice"),
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--stage",
                "local",
                "--no-autoreload",
            ],
            cwd=ROOT,
            env=dict(os.environ),
        )
        wait_for_http(f"{stack.api_url}/categories", timeout=60)

        from chalicelib.api.notify_handlers import NOTICE_QUEUE
        from devstack.workers import start_workers

        stack.workers = start_workers({NOTICE_QUEUE: queue_url})
        stack.h5 = start_h5(
            h5_port,
            {
                # the browser build may be pointed at a proxy in front of the API
                "apiBase": os.environ.get("SSP_H5_API_BASE") or stack.api_url,
                "oauthBase": stack.wechat.url.rstrip("/"),
                # web OAuth has its own app (an official account), not the mini-program's
                "appid": DEFAULT_OAUTH_APPID,
            },
            dist,
        )
    except BaseException:
        stack.stop()
        raise
    return stack


def describe(stack: Stack) -> str:
    """What a person needs to use the running stack."""
    codes = "\n".join(
        f"    {code:<18} {info['role']:<15} "
        + " ".join(f"{k}={v}" for k, v in info.items() if k.endswith("_id") and k != "user_id")
        for code, info in stack.logins.items()
    )
    return (
        f"Mini-program (browser build) {stack.h5.url}\n"
        f"Scan of station S01 opens    {scan_url(stack.h5.url, 'S01')}\n"
        f"API            {stack.api_url}\n"
        f"WeChat emulator {stack.wechat.url}  (calls: {stack.wechat.url}__emulator/calls)\n"
        f"SMS emulator   {stack.sms.url}  (messages: {stack.sms.url}__emulator/messages)\n"
        f"WeCom emulator {stack.wecom.url}  (digests: {stack.wecom.url}__emulator/messages)\n"
        f"moto (AWS)     {stack.moto.url}\n"
        'Demo login codes (POST /auth/login {"code": ...}); any other code is a new citizen:\n'
        f"{codes}\n"
    )


def run() -> int:
    """Run the stack in the foreground until Ctrl-C or SIGTERM."""
    stack = start_stack()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    print(describe(stack), flush=True)
    print(f"{READY_LINE} at {stack.api_url} (Ctrl-C stops everything)", flush=True)
    try:
        while not stopping.wait(0.5):
            if stack.api.poll() is not None:
                print("chalice local exited; stopping", file=sys.stderr)
                return 1
    finally:
        stack.stop()
        print("stopped", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """`python -m devstack run`."""
    if argv[:1] != ["run"]:
        print("usage: python -m devstack run", file=sys.stderr)
        return 2
    return run()
