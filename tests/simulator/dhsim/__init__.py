"""Local AWS endpoint for EC2 Dedicated Host failover tests, built on moto's server."""

__version__ = "1.0.0"
