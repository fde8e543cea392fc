"""The ``tenure`` command line (typer + rich): it parses arguments and renders results; the work is
done by the flows and the domain packages.

One module per command group (``up``, ``ask``, ``control``, ``vault``, ``agents``, ``judge``, ``doctor``,
``demo``, ``service``, ``telegram``, ``inbox``, ``cost``, ``analysis``, ``store``), the shared rendering in
``render``; this module assembles the app.
"""

from __future__ import annotations

import os

import typer

from tenure.cli.agents import agents_app
from tenure.cli.analysis import notebook, report
from tenure.cli.ask import ask
from tenure.cli.common import fail
from tenure.cli.control import backtest, demote, eval_, promote, promotions, route, scores, sql
from tenure.cli.cost import cost
from tenure.cli.demo import demo
from tenure.cli.doctor import doctor
from tenure.cli.guard import guarded
from tenure.cli.inbox import inbox_app
from tenure.cli.judge import judge_app, review
from tenure.cli.service import service_app
from tenure.cli.store import store_app
from tenure.cli.telegram import telegram_app
from tenure.cli.up import down, serve_app, status, up
from tenure.cli.vault import vault_app
from tenure.config import Env

__all__ = ["app", "main"]

app = typer.Typer(
    help="tenure: a personal LLM agent team on Prefect, where local models earn tenure on evidence.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


@app.callback()
def _quiet() -> None:
    """Before any command: keep Prefect's own chatter (temporary server, telemetry, per-task INFO lines)
    out of the CLI's output, its state inside the home, and the model hub out of reach. Deployed runs on
    a worker keep their normal logging; a value already set in the environment wins."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    env = Env()
    if env.home.exists() and not env.home.is_dir():
        fail(f"TENURE_HOME is {env.home}, which is a file: point TENURE_HOME at a folder (tenure creates it)")
    os.environ.setdefault("PREFECT_HOME", str(env.prefect_home))


app.command()(up)
app.command()(down)
app.command()(status)
app.command()(ask)
app.command()(doctor)
app.command()(demo)
app.command("eval")(eval_)
app.command()(route)
app.command()(scores)
app.command()(sql)
app.command()(promote)
app.command()(demote)
app.command()(promotions)
app.command()(backtest)
app.command()(cost)
app.command()(review)
app.command()(notebook)
app.command()(report)
app.add_typer(vault_app, name="vault")
app.add_typer(agents_app, name="agents")
app.add_typer(judge_app, name="judge")
app.add_typer(serve_app, name="serve")
app.add_typer(service_app, name="service")
app.add_typer(telegram_app, name="telegram")
app.add_typer(inbox_app, name="inbox")
app.add_typer(store_app, name="store")


def main() -> None:
    """The ``tenure`` command: the app, guarded (``tenure.cli.guard``: Ctrl-C, unexpected errors)."""
    guarded(app)
