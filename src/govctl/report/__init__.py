"""Reporters: render findings (data) as text, json, github, sarif or junit."""
