"""The console's pages, a module per area; each handler checks access through
`gateway.admin_api.access`, the one place that decides."""
