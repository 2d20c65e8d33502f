"""Operations of one node: health and readiness probes, Prometheus metrics, structured logs (docs/DEPLOYMENT.md)."""
