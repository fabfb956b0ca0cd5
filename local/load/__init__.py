"""`make load`: Lambda-like containers under a mixed, contended workload; or HTTP clients."""
