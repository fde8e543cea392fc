"""Building and serving the deployments of prefect.yaml; service files for launchd and systemd."""
