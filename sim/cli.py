"""`python -m sim`: serve the fakes, or run the demo."""
from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console

console = Console()


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a fake on 127.0.0.1 and print its URLs and credentials")
    p.add_argument("which", choices=["qbo", "canopy", "all"],
                   help="which fake(s); 'all' serves QBO on --port and Canopy on --port+1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None,
                   help="port (default 8001 for qbo and all, 8002 for canopy; 0: any free port)")
    p.add_argument("--seed", type=int, default=None, help="draw ids, tokens and secrets from this seed")
    p.add_argument("--db", default=None, help="keep state in this SQLite file (survives a restart)")


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole story against fresh fakes and print a report")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep-running", action="store_true",
                   help="leave the servers up afterwards and print their URLs and tokens")


async def _serve_qbo(args: argparse.Namespace, port: int) -> object:
    from sim.core.server import start_site
    from sim.fake_qbo.app import READY_APP, QboConfig, create_app
    from sim.core.context import SIM

    db = f"{args.db}.qbo" if args.db and args.which == "all" else args.db
    app = create_app(QboConfig(seed=args.seed, db=db, ready_made=True))
    runner, port = await start_site(app, args.host, port)
    base = f"http://{args.host}:{port}"
    company = app[SIM].extra.get("ready_company")
    console.print(f"[bold green]fake QBO[/] serving on {base}  (started)")
    console.print(f"  API base (python-quickbooks api_url_v3): {base}/v3")
    console.print(f"  OAuth discovery (intuit-oauth environment): {base}/.well-known/openid-configuration")
    console.print(f"  admin API: {base}/_sim   spec: {base}/openapi.json")
    console.print(f"  client_id:     {READY_APP['client_id']}")
    console.print(f"  client_secret: {READY_APP['client_secret']}")
    console.print(f"  redirect_uris: {', '.join(READY_APP['redirect_uris'])}")
    if company:
        console.print(f"  company:       {company['name']}  realm_id {company['realm_id']}")
        console.print(f"  sign-in user:  {company['user']['email']} / {company['user']['password']}")
    return runner


async def _serve_canopy(args: argparse.Namespace, port: int) -> object:
    from sim.core.server import start_site
    from sim.fake_canopy.app import CanopyConfig, create_app, ready_credentials

    db = f"{args.db}.canopy" if args.db and args.which == "all" else args.db
    app = create_app(CanopyConfig(seed=args.seed, db=db, ready_made=True))
    runner, port = await start_site(app, args.host, port)
    base = f"http://{args.host}:{port}"
    console.print(f"[bold green]fake Canopy[/] serving on {base}  (started)")
    console.print(f"  API base: {base}/public/v3   admin API: {base}/_sim   spec: {base}/openapi.json")
    creds = ready_credentials(app)
    if creds:
        console.print(f"  firm:          {creds['firm_name']}  firm_id {creds['firm_id']}  (paid, every module)")
        console.print(f"  admin user:    {creds['email']} / {creds['password']}")
        console.print(f"  bearer token:  {creds['token']}")
    return runner


async def _serve(args: argparse.Namespace) -> None:
    runners = []
    if args.which in ("qbo", "all"):
        runners.append(await _serve_qbo(args, 8001 if args.port is None else args.port))
    if args.which == "canopy":
        runners.append(await _serve_canopy(args, 8002 if args.port is None else args.port))
    if args.which == "all":
        base = 8001 if args.port is None else args.port
        runners.append(await _serve_canopy(args, base + 1 if base else 0))
    console.print("Press Ctrl+C to stop.")
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _demo_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            asyncio.run(_serve(args))
        elif args.command == "demo":
            from sim.demo import run_demo
            return asyncio.run(run_demo(seed=args.seed, keep_running=args.keep_running))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
