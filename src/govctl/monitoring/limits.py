"""The bounds on live inputs (SPEC §3.3), in one place the command line can import without
loading the parsers: observation files and Prometheus answers."""

MAX_OBSERVATION_BYTES = 256 << 20  # --max-observations-bytes
MAX_LINE_BYTES = 1 << 20  # one line of an observations file
PROMETHEUS_TIMEOUT = 10.0  # seconds for one whole request (--prometheus-timeout)
MAX_PROMETHEUS_ANSWER = 32 << 20  # bytes of one answer
MAX_DIGESTS_PER_SIGNAL = 32  # bundle digests remembered per (use case, signal)
