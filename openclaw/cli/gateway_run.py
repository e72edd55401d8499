"""`openclaw gateway [run]`: the same service `twistd openclaw` builds, in the foreground."""

from __future__ import annotations

import sys
from collections.abc import MutableMapping

import attrs
from twisted.python import usage

from openclaw.gateway.options import GatewayOptions
from openclaw.gateway.startup import GatewayRunOptions, StartupRefused, prepare_gateway

GATEWAY_USAGE = """\
Usage: openclaw gateway [run] [options]
       openclaw gateway <status|probe|call|health|install|uninstall|start|stop|restart> ...

Run the OpenClaw gateway in the foreground. SIGINT/SIGTERM stop it cleanly.
'openclaw gateway <subcommand> --help' shows a subcommand's options.
"""


def gateway_command(
    args: list[str], env: MutableMapping[str, str], *, profile: object, dev: bool
) -> int:
    from openclaw.cli.gateway_cmd import dispatch_subcommand

    handled = dispatch_subcommand(args, env, profile=profile, dev=dev)
    if handled is not None:
        return handled
    if args and args[0] == "run":
        args = args[1:]
    elif args and not args[0].startswith("-"):
        sys.stderr.write(
            f'OpenClaw gateway has no command "{args[0]}".\nTry: openclaw gateway --help\n'
            "Docs: https://docs.openclaw.ai/cli\n"
        )
        return 1
    options = GatewayOptions()
    try:
        options.parseOptions(args)
    except usage.UsageError as e:
        sys.stderr.write(f"error: {e}\n\n{GATEWAY_USAGE}{options}")
        return 1
    run: GatewayRunOptions = options["run"]
    if profile is not None or dev:
        if (profile is not None and run.profile is not None and profile != run.profile) or (
            profile is not None and run.dev
        ) or (dev and run.profile is not None):
            sys.stderr.write("Cannot combine --dev with --profile\n")
            return 1
        run = attrs.evolve(
            run,
            profile=run.profile if run.profile is not None else str(profile) if profile else None,
            dev=run.dev or dev,
        )
    return run_gateway(run, env)


def run_gateway(run: GatewayRunOptions, env: MutableMapping[str, str]) -> int:
    try:
        plan = prepare_gateway(run, env)
    except StartupRefused as e:
        sys.stderr.write(e.message + "\n")
        return e.exit_code

    from twisted.internet import reactor
    from twisted.logger import LogLevel, globalLogBeginner

    from openclaw.gateway.handover import reexec_argv
    from openclaw.gateway.supervisor import GatewaySupervisor, take_sigint
    from openclaw.logs import ConsoleLogObserver

    # The supervisor owns the GatewayService tree and rebuilds it on an in-process restart;
    # `openclaw gateway restart` may ask it to run this command line again (re-exec).
    gateway = GatewaySupervisor(plan, reactor, env, reexec_argv=reexec_argv())
    console = ConsoleLogObserver(
        level=LogLevel.debug if run.verbose else LogLevel.info, scrub=gateway.scrubber
    )
    globalLogBeginner.beginLoggingTo([console], redirectStandardIO=False)
    try:
        gateway.privilegedStartService()
    except StartupRefused as e:
        sys.stderr.write(f"Gateway failed to start: {e.message}\n")
        if "already" in e.message:
            sys.stderr.write("If the gateway is supervised, stop it with: openclaw gateway stop\n")
        return e.exit_code
    reactor.addSystemEventTrigger("before", "shutdown", gateway.stopService)
    reactor.callWhenRunning(gateway.startService)
    take_sigint()
    reactor.run()
    return gateway.exit_code
