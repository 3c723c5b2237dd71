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
    p.add_argument("--scenario", default=None,
                   help="seed both fakes with this scenario (name or YAML path); needs 'all'")
    p.add_argument("--scale", type=int, default=1, help="multiply the scenario's population by N")


def _scenario_parsers(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("scenarios", help="list the built-in scenarios, one line each")
    p = sub.add_parser("scenario", help="work with one scenario")
    ssub = p.add_subparsers(dest="scenario_command", required=True)
    show = ssub.add_parser("show", help="print a world's summary and its ground truth")
    show.add_argument("name", help="a built-in scenario name or a path to a YAML file")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--scale", type=int, default=1)
    show.add_argument("--json", action="store_true", help="print the ground truth as JSON instead")


def _list_scenarios() -> int:
    from sim.scenario import load_named, names

    for name in names():
        sc = load_named(name)
        console.print(f"[bold]{name:<26}[/] {sc.description}", highlight=False, soft_wrap=True)
    return 0


def _show_scenario(args: argparse.Namespace) -> int:
    from sim.core import jsonutil
    from sim.scenario import build_world, load_named
    from sim.scenario.report import show

    world = build_world(load_named(args.name), args.seed, args.scale)
    if args.json:
        print(jsonutil.dumps(world.truth, indent=2))
    else:
        show(world, console)
    return 0


async def _serve_scenario(args: argparse.Namespace) -> None:
    """Both fakes on --port and --port+1, seeded with the scenario; prints URLs, credentials and tokens."""
    from sim.core.server import start_site
    from sim.fake_canopy.app import CanopyConfig, create_app as canopy_app
    from sim.fake_qbo.app import QboConfig, create_app as qbo_app
    from sim.scenario import build_world, load_named
    from sim.scenario.seed import qbo_tokens, seed_world

    seed = args.seed if args.seed is not None else 0
    world = build_world(load_named(args.scenario), seed, args.scale)
    base_port = 8001 if args.port is None else args.port
    q_db = f"{args.db}.qbo" if args.db else None
    c_db = f"{args.db}.canopy" if args.db else None
    q_runner, q_port = await start_site(qbo_app(QboConfig(seed=seed, db=q_db)), args.host, base_port)
    c_runner, c_port = await start_site(canopy_app(CanopyConfig(seed=seed, db=c_db)), args.host,
                                        base_port + 1 if base_port else 0)
    try:
        q_url, c_url = f"http://{args.host}:{q_port}", f"http://{args.host}:{c_port}"
        seeded = await seed_world(world, q_url, c_url, unfreeze=True, release=True)
        tokens = await qbo_tokens(seeded)
        console.print(f"[bold green]scenario[/] {world.scenario.name} (seed {seed}, scale {args.scale}): "
                      f"{world.truth['counts']['canopy_clients']} clients, "
                      f"{world.truth['counts']['qbo_customers']} customers, seeded in "
                      f"{seeded.timings['total_s']:.1f}s")
        console.print(f"[bold green]fake QBO[/] {q_url}   API {q_url}/v3   discovery "
                      f"{q_url}/.well-known/openid-configuration   admin {q_url}/_sim")
        console.print(f"  client_id {seeded.app['client_id']}   client_secret {seeded.app['client_secret']}")
        console.print(f"  redirect_uris {', '.join(seeded.app['redirect_uris'])}")
        console.print(f"  realm_id {seeded.realm_id}   sign-in {seeded.qbo_user['email']} / {seeded.qbo_user['password']}")
        console.print(f"  access_token  {tokens['access_token']}")
        console.print(f"  refresh_token {tokens['refresh_token']}")
        console.print(f"[bold green]fake Canopy[/] {c_url}   API {c_url}/public/v3   admin {c_url}/_sim   "
                      f"firm_id {seeded.firm_id}")
        for u in seeded.canopy_users:
            console.print(f"  {u['email']} / {u['password']} ({u['permission_set']})  token {u['token']}")
        console.print("Ground truth: python -m sim scenario show "
                      f"{world.scenario.name} --seed {seed} --scale {args.scale}.  Press Ctrl+C to stop.")
        await asyncio.Event().wait()
    finally:
        await q_runner.cleanup()
        await c_runner.cleanup()


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole story (fakes, the engine, a scenario) and print a verdict")
    p.add_argument("--scenario", default="default", help="a built-in scenario name or a YAML path (default: default)")
    p.add_argument("--seed", type=int, default=0, help="the scenario's seed (default 0)")
    p.add_argument("--scale", type=int, default=1, help="multiply the scenario's population by N")
    p.add_argument("--keep-running", action="store_true",
                   help="leave the three servers up afterwards, print their URLs and credentials; Ctrl+C stops")
    p.add_argument("--tamper", action="store_true", help=argparse.SUPPRESS)


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
    _scenario_parsers(sub)
    args = parser.parse_args(argv)
    from sim.scenario import ScenarioError
    from sim.scenario.seed import SeedError
    try:
        if args.command == "scenarios":
            return _list_scenarios()
        if args.command == "scenario":
            return _show_scenario(args)
        if args.command == "serve" and args.scenario:
            if args.which != "all":
                parser.error("--scenario seeds both fakes: use 'serve all --scenario NAME'")
            asyncio.run(_serve_scenario(args))
        elif args.command == "serve":
            asyncio.run(_serve(args))
        elif args.command == "demo":
            from sim.demo import DemoOptions, run_demo
            return asyncio.run(run_demo(DemoOptions(scenario=args.scenario, seed=args.seed, scale=args.scale,
                                                    keep_running=args.keep_running, tamper=args.tamper)))
    except KeyboardInterrupt:
        return 0
    except (OSError, ScenarioError, SeedError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
