"""Digests (SPEC §1.3) and nothing else: RFC 8785 canonical JSON (``canonical``), the
bundle, contract and eval digests of a repository (``digester``), and the breakdown that
`govctl digest` shows (``breakdown``)."""
