"""Reading the simulator's YAML documents (scenarios, fleet descriptions) from a mapping, YAML text or a path."""

import yaml


def read_mapping(source, error, what):
    """``source`` as a dict: a mapping as is, else YAML text or a .yml/.yaml path; ``error(message)`` if not a mapping."""
    if isinstance(source, dict):
        return source
    text = str(source)
    if "\n" not in text and text.endswith((".yml", ".yaml")):
        with open(text, encoding="utf-8") as handle:
            text = handle.read()
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise error("%s must be a mapping" % what)
    return data
