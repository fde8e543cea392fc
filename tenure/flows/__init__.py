"""Prefect flows: composition only; the domain logic lives in models/, control/, memory/ and agents/.

Importing the package in a deployed run's process (the worker sets ``PREFECT__FLOW_RUN_ID``) turns
tracing on, if configured, before Prefect opens the run's span: the span is then the trace's root.
"""

import os
from contextlib import suppress

from tenure.config import ConfigError
from tenure.runtime import runtime

if os.environ.get("PREFECT__FLOW_RUN_ID"):
    with suppress(ConfigError):  # a bad config fails the run itself, in the flow's own runtime()
        runtime()
