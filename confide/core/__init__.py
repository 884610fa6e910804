"""Tenancy (Practice and tenant-owned models), the request context, permissions and roles,
the route-policy table and the deny-by-default view decorators."""
