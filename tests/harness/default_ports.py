"""The ports the services listen on when no setting names one, as their mains pass them
to `launch.boot.run`: what the README, the deploy files and the scrape configs state."""

import calc.main
import log.main

METRICS_PORTS = {"calc": calc.main.METRICS_PORT, "log": log.main.METRICS_PORT}
