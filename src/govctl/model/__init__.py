"""Files → records: the YAML 1.2 core loader with positions and limits, record kinds and
their schemas, the repository index, file references, the Policy, findings and the rule
catalogue; and the small pieces every layer above shares (dates, durations, atomic writes,
escaping text for outputs)."""
