"""Running it: logging, Prometheus metrics and the health listener (`/healthz`, `/readyz`,
`/metrics`)."""
