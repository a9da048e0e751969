"""Reporters: result data rendered as text, json, github, sarif, junit or markdown, one
module per format or command. Nothing below ``cli`` imports them."""
