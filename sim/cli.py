"""`python -m sim`: serve the fakes, or run the demo."""
from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console

console = Console()


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a fake on 127.0.0.1 and print its URLs and credentials")
    p.add_argument("which", choices=["qbo", "all"], help="which fake(s); 'all' serves every fake built so far")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001, help="port of the fake QBO (0: any free port)")
    p.add_argument("--seed", type=int, default=None, help="draw ids, tokens and secrets from this seed")
    p.add_argument("--db", default=None, help="keep state in this SQLite file (survives a restart)")


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole story against fresh fakes and print a report")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep-running", action="store_true",
                   help="leave the servers up afterwards and print their URLs and tokens")


async def _serve(args: argparse.Namespace) -> None:
    from sim.core.server import start_site
    from sim.fake_qbo.app import READY_APP, QboConfig, create_app
    from sim.core.context import SIM

    app = create_app(QboConfig(seed=args.seed, db=args.db, ready_made=True))
    runner, port = await start_site(app, args.host, args.port)
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
    console.print("Press Ctrl+C to stop.")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


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
