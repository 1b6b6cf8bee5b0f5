"""Pydantic's messages in a sweep spec's words (shared by spec validation and run expansion)."""

from __future__ import annotations


def friendly(msg: str) -> str:
    table = {
        "Input should be greater than 0": "must be positive",
        "Input should be greater than or equal to 0": "must not be negative",
        "Field required": "missing (required)",
        "Input should be a valid integer, got a number with a fractional part": "must be a whole number",
    }
    if msg in table:
        return table[msg]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if msg.startswith("value: "):
        msg = msg[len("value: ") :]
    if msg.startswith("List should have at least 1 item"):
        return "must not be empty"
    if msg.startswith("String should match pattern"):
        return "must start with a letter or digit and hold only letters, digits, '.', '_', '+' and '-'"
    return msg.replace("Input should be", "must be").replace("String should have", "must have")
