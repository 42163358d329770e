"""The web dashboard: pages and static assets served beside the REST API by the same process."""

from sluice.web.dashboard import mount_dashboard

__all__ = ["mount_dashboard"]
