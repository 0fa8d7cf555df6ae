"""Operations: metrics (/metrics), structured logs with request ids, liveness (/healthz)."""
