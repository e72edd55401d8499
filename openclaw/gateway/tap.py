"""`twistd openclaw`: the IServiceMaker's options and makeService.

Refusals print their one clear line and exit non-zero here too; twistd itself would print
a usage text and exit 0.
"""

from __future__ import annotations

import os
import sys

from twisted.application.service import IService, MultiService

from openclaw.gateway.options import GatewayOptions
from openclaw.gateway.startup import StartupRefused, prepare_gateway

Options = GatewayOptions


class _RefusalExits(MultiService):
    """Turns a StartupRefused at bind/lock time into the message and a non-zero exit."""

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except StartupRefused as e:
            sys.stderr.write(f"Gateway failed to start: {e.message}\n")
            raise SystemExit(e.exit_code) from None


def makeService(options: GatewayOptions) -> IService:
    from twisted.internet import reactor  # the one place the global reactor is touched

    from openclaw.gateway.supervisor import GatewaySupervisor, take_sigint

    take_sigint()
    try:
        plan = prepare_gateway(options["run"], os.environ)
    except StartupRefused as e:
        sys.stderr.write(e.message + "\n")
        raise SystemExit(e.exit_code) from None
    wrapper = _RefusalExits()
    # The supervisor runs the GatewayService tree and rebuilds it on an in-process restart.
    GatewaySupervisor(plan, reactor, os.environ).setServiceParent(wrapper)
    return wrapper
