"""Rules: one module per family of rules, each a function from the records in hand to
findings, registered with its codes (``registry``) and run together (``runner``); and the
semantics they share: which approval is current and whether it holds (``decisions``),
what a change does to the controls (``changes``), and planning a new approval
(``approve``)."""
