"""`sewnet`: one command line, a subcommand per role.

    sewnet demo      the whole network on this machine with embedded defaults
    sewnet hub ...   the central service
    sewnet gateway ...  the workshop gateway
    sewnet device ...   board bundles for technicians, and virtual boards
    sewnet registry ... the network registry's CSV import and export
    sewnet plan ...     the planner's solver from the command line (GAP benchmark files)
    sewnet kiosk ...    the made-to-measure kiosk: patterns from measurements
    sewnet styles ...   My Style Lab: catalogue, shoppers and purchases as CSV; the recommender's evaluation
"""

from __future__ import annotations

import typer

from edge_gateway.cli import app as gateway_app
from hub.cli import app as hub_app
from hub.registry.cli import app as registry_app
from hub.kiosk.cli import app as kiosk_app
from hub.planning.cli import app as plan_app
from hub.styles.cli import app as styles_app
from sewnet.device_cli import app as device_app

app = typer.Typer(no_args_is_help=True, help="SewNet: stitches from sewing machines to live capacity.")
app.add_typer(hub_app, name="hub", help="The central hub: capacity API, pages, embedded telemetry store.")
app.add_typer(gateway_app, name="gateway", help="The workshop gateway: MQTT ingest, durable outbox, uplink.")
app.add_typer(device_app, name="device", help="Boards: build a flash bundle, run a virtual board.")
app.add_typer(registry_app, name="registry", help="The network registry: CSV import and export of workshops, "
                                                  "machines, designers, suppliers.")
app.add_typer(plan_app, name="plan", help="Planning: split work across workshops (CP-SAT); GAP benchmark files.")
app.add_typer(kiosk_app, name="kiosk", help="The made-to-measure kiosk: patterns (DXF, SVG, PDF, cutting ticket) "
                                            "from measurements.")
app.add_typer(styles_app, name="styles", help="My Style Lab: the catalogue, shoppers and purchases as CSV; the "
                                              "recommender's offline evaluation against popularity.")


@app.command()
def demo(
    workshops: int = typer.Option(2, min=1, max=9, help="Workshops to simulate."),
    machines: int = typer.Option(3, min=1, max=20, help="Sewing machines (virtual boards) per workshop."),
    hub_port: int = typer.Option(8080, min=0, max=65535, help="Hub port; any free one if taken (0: any)."),
    data_dir: str = typer.Option("var/demo", help="Where the demo keeps its stores and board flash folders."),
    interval_ms: int = typer.Option(10_000, min=1000, max=3_600_000, help="Boards' summary interval."),
    flush_s: float = typer.Option(10.0, min=0.5, help="Gateways' uplink flush interval, seconds."),
    duration: float = typer.Option(0, min=0, help="Stop after this many seconds (0: run until Ctrl-C)."),
) -> None:
    """Run hub, gateways, brokers and virtual boards on this machine, nothing but Python needed."""
    from sewnet.demo import run_demo

    run_demo(workshops=workshops, machines=machines, hub_port=hub_port, data_dir=data_dir,
             interval_ms=interval_ms, flush_interval_s=flush_s, duration=duration or None)


if __name__ == "__main__":
    app()
